"""Acorn provisioning: store creation, enrollment, broker credentials, doctor."""
