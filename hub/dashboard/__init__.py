"""The HQ dashboard: server-rendered pages, live updates by server-sent events, CSV exports."""
