"""Amazon regions and marketplaces: ids, currencies, hosts and the IANA zone used for local dates.

Pure data and conversions. The API itself speaks UTC; the marketplace zone is used
to report times the way Seller Central shows them and to compute "orders of day D"
as UTC bounds of the local day (23 or 25 hours long on DST change days).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from hub.channels.amazon.errors import UnknownMarketplace
from hub.domain.business_day import business_day, day_bounds_utc

LWA_TOKEN_URL: Final = "https://api.amazon.com/auth/o2/token"


class Region(enum.StrEnum):
    """An SP-API region; each has its own host and serves its own marketplaces."""

    NA = "NA"
    EU = "EU"
    FE = "FE"

    @property
    def endpoint(self) -> str:
        """The production endpoint URL of the region."""
        return f"https://sellingpartnerapi-{self.value.lower()}.amazon.com"

    @property
    def aws_region(self) -> str:
        """The legacy AWS region name (the client library still wants one)."""
        return {"NA": "us-east-1", "EU": "eu-west-1", "FE": "us-west-2"}[self.value]


@dataclass(frozen=True, slots=True)
class Marketplace:
    """One Amazon marketplace."""

    code: str
    marketplace_id: str
    country_code: str
    region: Region
    currency: str
    zone_name: str
    sales_channel: str
    language: str

    @property
    def zone(self) -> ZoneInfo:
        """The IANA zone used for local dates of this marketplace."""
        return ZoneInfo(self.zone_name)


# Zones: Seller Central reports in NA are shown in Pacific time, so US and CA both use
# America/Los_Angeles (a choice; docs/amazon.md). The other zones are the country's.
_MARKETPLACES: Final = (
    Marketplace(
        "US", "ATVPDKIKX0DER", "US", Region.NA, "USD", "America/Los_Angeles", "Amazon.com", "en_US"
    ),
    Marketplace(
        "CA", "A2EUQ1WTGCTBG2", "CA", Region.NA, "CAD", "America/Los_Angeles", "Amazon.ca", "en_CA"
    ),
    Marketplace(
        "MX",
        "A1AM78C64UM0Y8",
        "MX",
        Region.NA,
        "MXN",
        "America/Mexico_City",
        "Amazon.com.mx",
        "es_MX",
    ),
    Marketplace(
        "BR",
        "A2Q3Y263D00KWC",
        "BR",
        Region.NA,
        "BRL",
        "America/Sao_Paulo",
        "Amazon.com.br",
        "pt_BR",
    ),
    Marketplace(
        "UK", "A1F83G8C2ARO7P", "GB", Region.EU, "GBP", "Europe/London", "Amazon.co.uk", "en_GB"
    ),
    Marketplace(
        "DE", "A1PA6795UKMFR9", "DE", Region.EU, "EUR", "Europe/Berlin", "Amazon.de", "de_DE"
    ),
    Marketplace(
        "FR", "A13V1IB3VIYZZH", "FR", Region.EU, "EUR", "Europe/Paris", "Amazon.fr", "fr_FR"
    ),
    Marketplace("IT", "APJ6JRA9NG5V4", "IT", Region.EU, "EUR", "Europe/Rome", "Amazon.it", "it_IT"),
    Marketplace(
        "ES", "A1RKKUPIHCS9HS", "ES", Region.EU, "EUR", "Europe/Madrid", "Amazon.es", "es_ES"
    ),
    Marketplace(
        "NL", "A1805IZSGTT6HS", "NL", Region.EU, "EUR", "Europe/Amsterdam", "Amazon.nl", "nl_NL"
    ),
    Marketplace(
        "SE", "A2NODRKZP88ZB9", "SE", Region.EU, "SEK", "Europe/Stockholm", "Amazon.se", "sv_SE"
    ),
    Marketplace(
        "PL", "A1C3SOZRARQ6R3", "PL", Region.EU, "PLN", "Europe/Warsaw", "Amazon.pl", "pl_PL"
    ),
    Marketplace(
        "BE", "AMEN7PMS3EDWL", "BE", Region.EU, "EUR", "Europe/Brussels", "Amazon.com.be", "fr_BE"
    ),
    Marketplace(
        "IE", "A28R8C7NBKEWEA", "IE", Region.EU, "EUR", "Europe/Dublin", "Amazon.ie", "en_IE"
    ),
    Marketplace(
        "JP", "A1VC38T7YXB528", "JP", Region.FE, "JPY", "Asia/Tokyo", "Amazon.co.jp", "ja_JP"
    ),
    Marketplace(
        "AU", "A39IBJ37TRP1C6", "AU", Region.FE, "AUD", "Australia/Sydney", "Amazon.com.au", "en_AU"
    ),
    Marketplace(
        "SG", "A19VAU5U5O7RUS", "SG", Region.FE, "SGD", "Asia/Singapore", "Amazon.sg", "en_SG"
    ),
)

MARKETPLACES_BY_ID: Final[dict[str, Marketplace]] = {m.marketplace_id: m for m in _MARKETPLACES}
MARKETPLACES_BY_CODE: Final[dict[str, Marketplace]] = {m.code: m for m in _MARKETPLACES}


def all_marketplaces() -> tuple[Marketplace, ...]:
    """Every marketplace the channel knows, NA first."""
    return _MARKETPLACES


def marketplace(id_or_code: str) -> Marketplace:
    """Look a marketplace up by its id (``ATVPDKIKX0DER``) or code (``US``; ``GB`` means UK)."""
    key = id_or_code.strip()
    found = MARKETPLACES_BY_ID.get(key) or MARKETPLACES_BY_CODE.get(key.upper())
    if found is None and key.upper() == "GB":
        found = MARKETPLACES_BY_CODE["UK"]
    if found is None:
        raise UnknownMarketplace(f"unknown Amazon marketplace {id_or_code!r}")
    return found


def to_marketplace_local(at_utc: datetime, marketplace_id: str) -> datetime:
    """The instant ``at_utc`` on the marketplace's wall clock."""
    if at_utc.tzinfo is None:
        raise ValueError("at_utc must be timezone-aware")
    return at_utc.astimezone(marketplace(marketplace_id).zone)


def marketplace_day(at_utc: datetime, marketplace_id: str) -> date:
    """The marketplace-local calendar day of an instant."""
    return business_day(at_utc, marketplace(marketplace_id).zone_name)


def marketplace_day_bounds_utc(day: date, marketplace_id: str) -> tuple[datetime, datetime]:
    """UTC [start, end) of a marketplace-local day; DST change days last 23 or 25 hours."""
    return day_bounds_utc(day, marketplace(marketplace_id).zone_name)
