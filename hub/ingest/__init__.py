"""MQTT ingest: validate -> apply exactly once -> dead-letter, with acks and resend requests."""
