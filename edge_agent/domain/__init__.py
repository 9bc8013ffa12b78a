"""The edge agent's pure core: sale, tax, tender, returns, shift and business-day rules.

Nothing in this package performs I/O or reads the clock on its own; adapters in
``edge_agent.store``, ``edge_agent.ui`` and ``edge_agent.devices`` load data, call
these functions with explicit values (``now_utc``, stock levels, approvals) and
persist what they return.
"""
