"""The edge agent's local store: peewee models on SQLite (WAL), migrations and repositories.

Every business change and the outbox event that reports it are written in one
SQLite transaction, with the next gap-free seq of the store.
"""
