"""Acorn edge agent: the store's POS box (local store, sales, devices, sync, cashier UI)."""
