"""Data files shipped inside the hub package, and the small loaders that read them.

This is the adapter side of ``hub.domain.geo``: it reads the package data with
``importlib.resources`` (so it works from a wheel or a zip) and hands the text to the
pure parser.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

from hub.domain.geo import PostalCodeTable, parse_postal_csv

POSTAL_CODES_FILE: Final = "postal_codes.csv"


def read_postal_codes_text() -> str:
    """Return the text of the postal-code table shipped with the hub."""
    return resources.files(__name__).joinpath(POSTAL_CODES_FILE).read_text(encoding="utf-8")


@functools.cache
def load_postal_codes() -> PostalCodeTable:
    """Parse the shipped postal-code table once and return it (the table is immutable)."""
    return parse_postal_csv(read_postal_codes_text())
