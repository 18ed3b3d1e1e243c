"""Compatibility layers for jobs written against older connectors (``compat.fpc``)."""
