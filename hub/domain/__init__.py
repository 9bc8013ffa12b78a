"""The hub's functional core: stock arithmetic, business days, catalog rows, sync bookkeeping.

Pure: no database, no MQTT, no HTTP, no clock reads. Adapters load, call, and write.
"""
