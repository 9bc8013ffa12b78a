"""SKU mapping: our canonical SKU <-> Amazon seller SKU and ASIN, per marketplace (pure).

CSV layout (header required, column order free, unknown columns ignored)::

    canonical_sku,marketplace,seller_sku,asin,product_type

``marketplace`` is a code (US, UK, DE...) or a marketplace id; ``product_type``
defaults to ``PRODUCT`` (accepted for offer-only patches). One canonical SKU maps
to at most one seller SKU per marketplace, and a seller SKU to one canonical SKU.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from hub.channels.amazon.errors import UnknownMarketplace
from hub.channels.amazon.marketplaces import marketplace

DEFAULT_PRODUCT_TYPE: Final = "PRODUCT"
REQUIRED_COLUMNS: Final = ("canonical_sku", "marketplace", "seller_sku", "asin")
_ASIN = re.compile(r"^[A-Z0-9]{10}$")
MAX_SELLER_SKU_LENGTH: Final = 40


@dataclass(frozen=True, slots=True)
class SkuMapping:
    """One canonical SKU listed as ``seller_sku`` (ASIN ``asin``) in one marketplace."""

    canonical_sku: str
    marketplace_id: str
    seller_sku: str
    asin: str
    product_type: str = DEFAULT_PRODUCT_TYPE


@dataclass(frozen=True, slots=True)
class RowError:
    """A CSV row that was not imported, with every reason found."""

    line: int
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnmappedSku:
    """A canonical SKU with no listing in some marketplaces of the channel."""

    canonical_sku: str
    missing_marketplace_ids: tuple[str, ...]


class SkuMap:
    """Lookups both ways over a set of mappings."""

    def __init__(self, mappings: Iterable[SkuMapping]) -> None:
        self._by_canonical: dict[tuple[str, str], SkuMapping] = {}
        self._by_seller: dict[tuple[str, str], SkuMapping] = {}
        for m in mappings:
            self._by_canonical[(m.canonical_sku, m.marketplace_id)] = m
            self._by_seller[(m.seller_sku, m.marketplace_id)] = m

    def __len__(self) -> int:
        return len(self._by_canonical)

    def __iter__(self) -> Iterator[SkuMapping]:
        return iter(self._by_canonical.values())

    def for_canonical(self, canonical_sku: str, marketplace_id: str) -> SkuMapping | None:
        """The listing of a canonical SKU in a marketplace."""
        return self._by_canonical.get((canonical_sku, marketplace_id))

    def for_seller_sku(self, seller_sku: str, marketplace_id: str) -> SkuMapping | None:
        """The mapping behind an Amazon seller SKU (to read order items)."""
        return self._by_seller.get((seller_sku, marketplace_id))

    def unmapped(
        self, canonical_skus: Iterable[str], marketplace_ids: Iterable[str]
    ) -> list[UnmappedSku]:
        """Canonical SKUs missing a listing in some of ``marketplace_ids`` (dashboard list)."""
        mids = tuple(marketplace_ids)
        out = []
        for sku in sorted(set(canonical_skus)):
            missing = tuple(m for m in mids if (sku, m) not in self._by_canonical)
            if missing:
                out.append(UnmappedSku(sku, missing))
        return out


def _row_problems(row: dict[str, str]) -> tuple[SkuMapping | None, list[str]]:
    problems: list[str] = []
    canonical = (row.get("canonical_sku") or "").strip()
    seller_sku = (row.get("seller_sku") or "").strip()
    asin = (row.get("asin") or "").strip().upper()
    product_type = (row.get("product_type") or "").strip().upper() or DEFAULT_PRODUCT_TYPE
    marketplace_id = ""
    if not canonical:
        problems.append("canonical_sku is empty")
    if not seller_sku:
        problems.append("seller_sku is empty")
    elif len(seller_sku) > MAX_SELLER_SKU_LENGTH:
        problems.append(f"seller_sku is longer than {MAX_SELLER_SKU_LENGTH} characters")
    if not _ASIN.match(asin):
        problems.append(f"asin {asin!r} is not 10 letters or digits")
    try:
        marketplace_id = marketplace((row.get("marketplace") or "").strip()).marketplace_id
    except UnknownMarketplace as err:
        problems.append(str(err))
    if problems:
        return None, problems
    return SkuMapping(canonical, marketplace_id, seller_sku, asin, product_type), []


def parse_mapping_csv(text: str) -> tuple[list[SkuMapping], list[RowError]]:
    """Parse a mapping CSV; bad rows and conflicts are reported, the good rows kept."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return [], [RowError(1, (f"missing column(s): {', '.join(missing)}",))]
    reader.fieldnames = header
    good: list[SkuMapping] = []
    errors: list[RowError] = []
    by_canonical: dict[tuple[str, str], int] = {}
    by_seller: dict[tuple[str, str], int] = {}
    for line, row in enumerate(reader, start=2):
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        mapping, problems = _row_problems(row)
        if mapping is not None:
            key_c = (mapping.canonical_sku, mapping.marketplace_id)
            key_s = (mapping.seller_sku, mapping.marketplace_id)
            if key_c in by_canonical:
                problems.append(
                    f"{mapping.canonical_sku} is already mapped in this marketplace "
                    f"on line {by_canonical[key_c]}"
                )
            if key_s in by_seller:
                problems.append(
                    f"seller SKU {mapping.seller_sku} is already used in this marketplace "
                    f"on line {by_seller[key_s]}"
                )
        if problems or mapping is None:
            errors.append(RowError(line, tuple(problems)))
            continue
        by_canonical[(mapping.canonical_sku, mapping.marketplace_id)] = line
        by_seller[(mapping.seller_sku, mapping.marketplace_id)] = line
        good.append(mapping)
    return good, errors
