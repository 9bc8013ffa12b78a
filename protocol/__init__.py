"""Acorn wire protocol v1: topics, the envelope and every message type.

Pure: imports no other Acorn package, performs no I/O. Both the edge agent
and the hub import it.
"""

PROTOCOL_VERSION = 1
