"""Store hardware: receipt printers (python-escpos), barcode scanners (pyserial), the print queue.

Everything behind one narrow interface (``printers.Printer``) so a new printer or
scanner kind is a new adapter, never a branch in the sale code. The receipt
layout itself is pure and lives in ``edge_agent.domain.receipt``.
"""
