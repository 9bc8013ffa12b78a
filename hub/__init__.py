"""Acorn hub: ingest, stock ledger, channels, routing, dashboard and REST API."""
