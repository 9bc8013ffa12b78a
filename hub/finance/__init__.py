"""Finance: settlement import, reconciliation, profit and tax summaries (docs/finance.md).

Tables: hub.db.models_finance. ``settlement`` parses Amazon's V2 settlement flat file
(pure), ``importer`` stores it and links its lines to marketplace orders.
"""
