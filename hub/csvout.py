"""CSV text for exports that staff open in a spreadsheet (pure: no I/O).

RFC 4180 with CRLF line ends. Text a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``, tab or CR at the start) gets a leading apostrophe; numbers stay numbers,
dates and times are ISO 8601, booleans ``yes``/``no``, missing values empty.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Verbatim(str):
    """Text written as is, without the formula guard (a formatted amount such as ``-1.80``)."""

    __slots__ = ()


def cell(value: Any) -> Any:
    """One value as written to the CSV (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, Verbatim | Decimal):
        return str(value)  # a number's exact text: its leading minus is a sign
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(header: list[str], rows: Iterable[Iterable[Any]]) -> tuple[str, int]:
    """Render rows as CSV text under ``header``; returns (text, row count)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    n = 0
    for row in rows:
        writer.writerow([cell(v) for v in row])
        n += 1
    return out.getvalue(), n
