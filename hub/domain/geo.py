"""Great-circle distances and the postal-code table that places a ship-to address on the map.

Pure: the table is parsed from text (the CSV shipped in ``hub/data/postal_codes.csv``,
read by ``hub.data.load_postal_codes``); nothing here opens a file.

Lookup takes the most specific entry the table knows: the exact code first, then
ever shorter prefixes of it. What a "prefix" is depends on the country's format:

* US: the 5-digit ZIP (ZIP+4 is cut to 5 digits), then its leading digits
  (the 3-digit prefix is the sectional centre facility).
* GB (``UK`` is accepted as an alias): full postcode ``SW1A 1AA``, then the sector
  ``SW1A 1``, the district (outward code) ``SW1A`` and the area ``SW``. Character
  prefixes would be wrong here: ``M14`` is not part of ``M1``.
* DE: the 5-digit PLZ, then its leading digits (2 digits = Leitregion).
* JP: the 7-digit code (``100-0005``, full-width digits and ``〒`` accepted), then its
  leading digits (3 digits = the delivery area).
* any other country: upper case without spaces or hyphens, then its leading characters.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Protocol

EARTH_RADIUS_KM: Final = 6371.0088
"""Mean Earth radius (IUGG); the spherical model is off by at most ~0.5 % from the ellipsoid."""

POSTAL_CSV_HEADER: Final = ("country", "code", "lat", "lon", "place")

COUNTRY_ALIASES: Final[dict[str, str]] = {"UK": "GB"}
"""Codes people write that are not the ISO 3166-1 alpha-2 code of the country."""


class PostalCodeError(ValueError):
    """A postal code or country that cannot be read for the given country."""


class PostalTableError(ValueError):
    """The postal-code table text is malformed; the message names the line."""


# --------------------------------------------------------------------------- distance


@dataclass(frozen=True, slots=True)
class GeoPoint:
    """A position in decimal degrees (WGS 84)."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        check_coordinates(self.lat, self.lon)


def check_coordinates(lat: float, lon: float) -> None:
    """Raise ValueError unless lat is in [-90, 90] and lon in [-180, 180] (and both finite)."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise ValueError(f"latitude must be between -90 and 90, got {lat!r}")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise ValueError(f"longitude must be between -180 and 180, got {lon!r}")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in decimal degrees."""
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2.0) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2.0) ** 2
    # min() guards asin against 1.0000000000000002 for antipodal points.
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in km between two points."""
    return haversine_km(a.lat, a.lon, b.lat, b.lon)


# --------------------------------------------------------------------------- postal codes


def normalise_country(country: str) -> str:
    """Return the ISO 3166-1 alpha-2 code (upper case; ``UK`` becomes ``GB``)."""
    code = country.strip().upper()
    code = COUNTRY_ALIASES.get(code, code)
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise PostalCodeError(f"country must be a 2-letter ISO 3166-1 code, got {country!r}")
    return code


# Hyphen look-alikes seen in Japanese addresses (NFKC leaves the katakana long
# vowel mark and the dashes alone).
_HYPHENS: Final = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70"
_GB_FULL: Final = re.compile(r"([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})")
_GB_KEY: Final = re.compile(r"[A-Z]{1,2}(?:[0-9][A-Z0-9]?(?: [0-9](?:[A-Z]{2})?)?)?")
_GB_OUTWARD: Final = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")


def _clean(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw).upper().strip()
    text = text.removeprefix("〒").strip()
    for dash in _HYPHENS:
        text = text.replace(dash, "-")
    return text


def _digits(country: str, raw: str, text: str, *, lengths: tuple[int, ...]) -> str:
    digits = text.replace("-", "").replace(" ", "")
    if not digits.isdigit() or not digits.isascii() or len(digits) not in lengths:
        raise PostalCodeError(f"{raw!r} is not a valid {country} postal code")
    return digits


def _us_code(raw: str, *, key: bool) -> str:
    text = _clean(raw)
    if key:
        return _digits("US", raw, text, lengths=(1, 2, 3, 4, 5))
    # ZIP+4: "12345-6789", "12345 6789" or "123456789"; only the 5-digit ZIP routes.
    digits = _digits("US", raw, text, lengths=(5, 9))
    return digits[:5]


def _de_code(raw: str, *, key: bool) -> str:
    text = _clean(raw)
    for old in ("D-", "DE-", "D "):  # the pre-1993 "D-10115" style still turns up
        if text.startswith(old):
            text = text[len(old) :].strip()
            break
    return _digits("DE", raw, text, lengths=(1, 2, 3, 4, 5) if key else (5,))


def _jp_code(raw: str, *, key: bool) -> str:
    text = _clean(raw)
    return _digits("JP", raw, text, lengths=(1, 2, 3, 4, 5, 6, 7) if key else (7,))


def _gb_code(raw: str, *, key: bool) -> str:
    text = re.sub(r"\s+", "", _clean(raw))
    full = _GB_FULL.fullmatch(text)
    if full is not None:
        return f"{full.group(1)} {full.group(2)}"
    if key:
        # Table keys may be an area ("SW"), a district ("SW1A") or a sector ("SW1A 1").
        spaced = re.sub(r"\s+", " ", _clean(raw))
        if _GB_KEY.fullmatch(spaced):
            return spaced
    elif _GB_OUTWARD.fullmatch(text):
        return text  # an outward code on its own still places the address
    raise PostalCodeError(f"{raw!r} is not a valid GB postcode")


def _generic_code(raw: str, *, key: bool) -> str:
    text = _clean(raw).replace("-", "").replace(" ", "")
    if not text or not text.isalnum():
        raise PostalCodeError(f"{raw!r} is not a postal code")
    return text


def _prefixes(code: str) -> Iterator[str]:
    for end in range(len(code), 0, -1):
        yield code[:end]


def _gb_keys(code: str) -> Iterator[str]:
    outward, _, inward = code.partition(" ")
    if inward:
        yield code
        yield f"{outward} {inward[0]}"
    yield outward
    area = re.match(r"[A-Z]+", outward)
    if area is not None:
        yield area.group()


class _Normaliser(Protocol):
    def __call__(self, raw: str, *, key: bool) -> str: ...


_NORMALISERS: Final[dict[str, _Normaliser]] = {
    "US": _us_code,
    "GB": _gb_code,
    "DE": _de_code,
    "JP": _jp_code,
}


def normalise_postal_code(country: str, raw: str) -> str:
    """Return the canonical form of a full postal code (``SW1A 1AA``, ``1000005``, ``10001``)."""
    cc = normalise_country(country)
    return _NORMALISERS.get(cc, _generic_code)(raw, key=False)


def normalise_postal_key(country: str, raw: str) -> str:
    """Return the canonical form of a table key: a full code or a prefix of one."""
    cc = normalise_country(country)
    return _NORMALISERS.get(cc, _generic_code)(raw, key=True)


def lookup_keys(country: str, raw: str) -> tuple[str, ...]:
    """Return the keys to try for a postal code, most specific first."""
    cc = normalise_country(country)
    code = normalise_postal_code(cc, raw)
    keys = _gb_keys(code) if cc == "GB" else _prefixes(code)
    return tuple(dict.fromkeys(k for k in keys if k))


@dataclass(frozen=True, slots=True)
class PostalPlace:
    """One table row: a postal code or prefix and the position it stands for."""

    country: str
    code: str
    lat: float
    lon: float
    place: str

    @property
    def point(self) -> GeoPoint:
        """The row's position."""
        return GeoPoint(self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class PostalMatch:
    """The answer to a lookup: the row used, the normalised query and whether it matched exactly."""

    place: PostalPlace
    query: str
    exact: bool

    @property
    def point(self) -> GeoPoint:
        """The position of the matched row."""
        return self.place.point

    def describe(self) -> str:
        """Say how the position was found, e.g. ``postal table: GB M14 5AB via M (Manchester)``."""
        how = "exact" if self.exact else f"via {self.place.code}"
        return f"postal table: {self.place.country} {self.query} {how} ({self.place.place})"


class PostalCodeTable:
    """Postal codes and prefixes with the position each stands for, by country."""

    __slots__ = ("_rows",)

    def __init__(self, places: Iterable[PostalPlace]) -> None:
        rows: dict[tuple[str, str], PostalPlace] = {}
        for place in places:
            key = (place.country, place.code)
            if key in rows:
                raise PostalTableError(f"duplicate entry {place.country} {place.code!r}")
            rows[key] = place
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[PostalPlace]:
        return iter(self._rows.values())

    @property
    def countries(self) -> frozenset[str]:
        """The countries the table has rows for."""
        return frozenset(country for country, _ in self._rows)

    def lookup(self, country: str, postal_code: str) -> PostalMatch | None:
        """Find the most specific row for a postal code; None when no row covers it.

        Raises PostalCodeError when the code is not valid for the country (a US ZIP
        of four digits, a GB postcode without a district number, ...).
        """
        cc = normalise_country(country)
        keys = lookup_keys(cc, postal_code)
        for i, key in enumerate(keys):
            place = self._rows.get((cc, key))
            if place is not None:
                return PostalMatch(place=place, query=keys[0], exact=i == 0)
        return None


def parse_postal_rows(rows: Iterable[tuple[int, list[str]]]) -> list[PostalPlace]:
    """Validate ``(line number, fields)`` rows of country, code, lat, lon, place."""
    places: list[PostalPlace] = []
    for line_no, fields in rows:
        if len(fields) != len(POSTAL_CSV_HEADER):
            raise PostalTableError(
                f"line {line_no}: expected {len(POSTAL_CSV_HEADER)} fields "
                f"({', '.join(POSTAL_CSV_HEADER)}), got {len(fields)}"
            )
        country_text, code_text, lat_text, lon_text, place = (f.strip() for f in fields)
        try:
            country = normalise_country(country_text)
            code = normalise_postal_key(country, code_text)
            lat = float(lat_text)
            lon = float(lon_text)
            check_coordinates(lat, lon)
        except ValueError as err:
            raise PostalTableError(f"line {line_no}: {err}") from err
        if not place:
            raise PostalTableError(f"line {line_no}: the place name is empty")
        places.append(PostalPlace(country, code, lat, lon, place))
    return places


def parse_postal_csv(text: str) -> PostalCodeTable:
    """Parse the postal table CSV (header line, ``#`` comment lines allowed) into a table."""
    numbered = [
        (i, line)
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise PostalTableError("the postal table is empty (no header line)")
    header_no, header_line = numbered[0]
    header = [h.strip().lower() for h in next(csv.reader([header_line]))]
    if tuple(header) != POSTAL_CSV_HEADER:
        raise PostalTableError(
            f"line {header_no}: header must be {','.join(POSTAL_CSV_HEADER)}, got {header_line!r}"
        )
    rows = ((no, fields) for no, line in numbered[1:] for fields in csv.reader([line]))
    try:
        return PostalCodeTable(parse_postal_rows(rows))
    except csv.Error as err:
        raise PostalTableError(f"malformed CSV: {err}") from err


def format_postal_csv(places: Iterable[PostalPlace]) -> str:
    """Render rows in the table's CSV format (header included)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(POSTAL_CSV_HEADER)
    for p in places:
        writer.writerow([p.country, p.code, f"{p.lat:.4f}", f"{p.lon:.4f}", p.place])
    return out.getvalue()


def places_from_geonames(text: str, *, prefix_len: int | None = None) -> list[PostalPlace]:
    """Convert a GeoNames postal-code dump (tab-separated) into table rows.

    GeoNames columns: country, postal code, place name, admin names and codes,
    latitude (col 10), longitude (col 11), accuracy. With ``prefix_len`` the codes
    are grouped by their first ``prefix_len`` characters (the GB outward code when
    ``prefix_len`` is 0) and each group becomes one row at the mean position, named
    after its most frequent place.
    """
    groups: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 11:
            raise PostalTableError(f"line {line_no}: a GeoNames row has 12 tab-separated columns")
        try:
            country = normalise_country(cols[0])
            lat, lon = float(cols[9]), float(cols[10])
            check_coordinates(lat, lon)
            if prefix_len is None:
                code = normalise_postal_key(country, cols[1])
            elif prefix_len == 0:
                code = normalise_postal_key(country, cols[1].split()[0])
            else:
                code = normalise_postal_key(country, re.sub(r"[\s-]", "", cols[1])[:prefix_len])
        except ValueError as err:
            raise PostalTableError(f"line {line_no}: {err}") from err
        groups[(country, code)].append((lat, lon, cols[2].strip() or code))
    places = []
    for (country, code), members in sorted(groups.items()):
        lat = sum(m[0] for m in members) / len(members)
        lon = sum(m[1] for m in members) / len(members)
        name = Counter(m[2] for m in members).most_common(1)[0][0]
        places.append(PostalPlace(country, code, round(lat, 4), round(lon, 4), name))
    return places
