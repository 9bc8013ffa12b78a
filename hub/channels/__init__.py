"""Marketplace channels: connectors, their pure channel logic and local sandboxes."""
