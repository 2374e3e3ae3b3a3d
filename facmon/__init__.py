"""facmon: facility and equipment monitoring for the logistics departments of power enterprises.

The ``facmon`` package is the shared kernel: the wire contract, configuration loading,
logging and the ``facmon`` command. The components live beside it (``devices``,
``gateway``, ``collector``, ``api``, ``dashboards``).
"""

__version__ = "0.1.0"
