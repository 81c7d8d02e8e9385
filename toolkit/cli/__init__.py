"""The ``tenantctl`` command line: parses, calls the library, renders with rich."""
