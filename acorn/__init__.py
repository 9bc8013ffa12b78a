"""Acorn: the ``acorn`` command line that ties the edge agent, hub and tools together."""

__version__ = "0.1.0"
