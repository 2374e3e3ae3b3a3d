"""The ``facmon`` command: it starts each component, the demo and the config reference.

Nothing imports this package; it imports the components.
"""
