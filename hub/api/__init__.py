"""The hub's REST API (FastAPI): thin routes over the repositories, token authentication."""
