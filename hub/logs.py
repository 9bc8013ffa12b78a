"""Structured JSON logs; the envelope id being processed is the trace id of every line."""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

_TRACE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI copy of msg
}


@contextlib.contextmanager
def trace_id(value: str | None) -> Iterator[None]:
    """Make ``value`` the trace id of every log line written inside the block."""
    token = _TRACE_ID.set(value)
    try:
        yield
    finally:
        _TRACE_ID.reset(token)


def current_trace_id() -> str | None:
    """The trace id in effect, if any."""
    return _TRACE_ID.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, trace_id and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        trace = getattr(record, "trace_id", None) or _TRACE_ID.get()
        if trace:
            data["trace_id"] = trace
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key != "trace_id" and not key.startswith("_"):
                data[key] = (
                    value if isinstance(value, str | int | float | bool | None) else repr(value)
                )
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    """Configure the root logger for a hub process (stderr)."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request access lines are noise next to the structured hub log.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
