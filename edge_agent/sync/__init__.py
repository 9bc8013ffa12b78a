"""Outbox sync over MQTT: the paho client wrapper, the outbox pump, acks and inbound handlers."""
