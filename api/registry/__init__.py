"""The asset registry, in SQL: SQLite by default, PostgreSQL in production.

Sites, buildings, floors, rooms, assets, the devices bound to them, work orders, documents
and API tokens.
"""
