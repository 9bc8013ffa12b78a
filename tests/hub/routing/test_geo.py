"""Great-circle distance and the postal-code table: parsing, normalisation, lookup, import."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hub.data import load_postal_codes, read_postal_codes_text
from hub.data.postal_import import main as postal_import_main
from hub.domain.geo import (
    EARTH_RADIUS_KM,
    GeoPoint,
    PostalCodeError,
    PostalPlace,
    PostalTableError,
    distance_km,
    format_postal_csv,
    haversine_km,
    lookup_keys,
    normalise_country,
    normalise_postal_code,
    parse_postal_csv,
    places_from_geonames,
)

# --------------------------------------------------------------------------- distance


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        pytest.param((0.0, 0.0), (0.0, 0.0), 0.0, id="same-point"),
        pytest.param(
            (0.0, 0.0), (0.0, 1.0), 2 * math.pi * EARTH_RADIUS_KM / 360, id="1deg-equator"
        ),
        pytest.param((0.0, 10.0), (90.0, 10.0), math.pi * EARTH_RADIUS_KM / 2, id="equator-pole"),
        pytest.param((0.0, 0.0), (0.0, 180.0), math.pi * EARTH_RADIUS_KM, id="antipodes"),
        pytest.param((10.0, 179.5), (10.0, -179.5), 109.5, id="across-the-date-line"),
    ],
)
def test_haversine_exact_cases(a: tuple[float, float], b: tuple[float, float], km: float) -> None:
    assert haversine_km(*a, *b) == pytest.approx(km, abs=0.1)


def test_haversine_real_cities() -> None:
    london, paris = GeoPoint(51.5074, -0.1278), GeoPoint(48.8566, 2.3522)
    assert distance_km(london, paris) == pytest.approx(343.5, abs=2)
    tokyo, osaka = GeoPoint(35.6812, 139.7671), GeoPoint(34.7025, 135.4959)
    assert distance_km(tokyo, osaka) == pytest.approx(403, abs=3)
    assert distance_km(paris, london) == distance_km(london, paris)


@pytest.mark.parametrize(
    ("lat", "lon"), [(91, 0), (-90.5, 0), (0, 181), (math.nan, 0), (0, math.inf)]
)
def test_geopoint_refuses_impossible_coordinates(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match="must be between"):
        GeoPoint(lat, lon)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("country", "raw", "canonical"),
    [
        ("US", "10001", "10001"),
        ("us", " 10001-1234 ", "10001"),
        ("US", "10001 1234", "10001"),
        ("US", "100011234", "10001"),
        ("US", "02134", "02134"),
        ("GB", "sw1a1aa", "SW1A 1AA"),
        ("UK", "SW1A  1AA", "SW1A 1AA"),
        ("GB", "m1 1ae", "M1 1AE"),
        ("GB", "EC1A1BB", "EC1A 1BB"),
        ("GB", "m14", "M14"),
        ("DE", "10115", "10115"),
        ("DE", "D-80331", "80331"),
        ("DE", "01067", "01067"),
        ("JP", "100-0005", "1000005"),
        ("JP", "1000005", "1000005"),
        ("JP", "〒100-0005", "1000005"),
        ("JP", "１００－０００５", "1000005"),
        ("JP", "100ー0005", "1000005"),
        ("FR", "75 001", "75001"),
        ("NL", "1012 ab", "1012AB"),
    ],
)
def test_postal_codes_are_normalised(country: str, raw: str, canonical: str) -> None:
    assert normalise_postal_code(country, raw) == canonical


@pytest.mark.parametrize(
    ("country", "raw"),
    [
        ("US", "1234"),
        ("US", "123456"),
        ("US", "ABCDE"),
        ("GB", "SW1A 1A"),
        ("GB", "1AA"),
        ("DE", "1011"),
        ("DE", "101155"),
        ("JP", "100-000"),
        ("JP", "abc-defg"),
        ("FR", "!!"),
    ],
)
def test_malformed_postal_codes_are_refused(country: str, raw: str) -> None:
    with pytest.raises(PostalCodeError, match="not a"):
        normalise_postal_code(country, raw)


@pytest.mark.parametrize("bad", ["", "U", "USA", "1A"])
def test_country_must_be_two_letters(bad: str) -> None:
    with pytest.raises(PostalCodeError, match="2-letter"):
        normalise_country(bad)


def test_uk_is_read_as_gb() -> None:
    assert normalise_country(" uk ") == "GB"


def test_gb_lookup_walks_the_postcode_hierarchy_not_characters() -> None:
    assert lookup_keys("GB", "M14 5AB") == ("M14 5AB", "M14 5", "M14", "M")
    assert lookup_keys("GB", "SW1A 1AA") == ("SW1A 1AA", "SW1A 1", "SW1A", "SW")
    assert lookup_keys("US", "10001-1234") == ("10001", "1000", "100", "10", "1")


# --------------------------------------------------------------------------- the shipped table


@pytest.mark.parametrize(
    ("country", "raw", "matched", "exact", "place"),
    [
        # US: exact ZIP, ZIP+4, prefix fallback
        ("US", "10001", "10001", True, "New York NY (Chelsea)"),
        ("US", "10001-1234", "10001", True, "New York NY (Chelsea)"),
        ("US", "10025", "100", False, "New York NY (Manhattan)"),
        ("US", "94110", "941", False, "San Francisco CA"),
        ("US", "02134", "021", False, "Boston MA"),
        # GB: exact, district, area; spacing and case
        ("GB", "sw1a1aa", "SW1A 1AA", True, "Buckingham Palace"),
        ("UK", "SW1A 0AA", "SW1A", False, "London Westminster"),
        ("GB", "M1 1AE", "M1", False, "Manchester city centre"),
        ("GB", "M14 5AB", "M", False, "Manchester"),
        ("GB", "eh1 1yz", "EH1", False, "Edinburgh Old Town"),
        ("GB", "EH3 9AA", "EH", False, "Edinburgh"),
        # DE: exact PLZ, region fallback, old "D-" style
        ("DE", "10115", "10115", True, "Berlin-Mitte"),
        ("DE", "10117", "10", False, "Berlin"),
        ("DE", "D-80333", "80", False, "München"),
        ("DE", "01069", "01", False, "Dresden"),
        # JP: exact, 3-digit fallback, full-width and the island exceptions
        ("JP", "100-0005", "1000005", True, "Tokyo Marunouchi (Tokyo Station)"),
        ("JP", "１５０－０００１", "150", False, "Tokyo Shibuya-ku"),
        ("JP", "530-0012", "530", False, "Osaka Kita-ku (Umeda)"),
        ("JP", "100-0001", "10000", False, "Tokyo Chiyoda-ku"),
        ("JP", "100-2101", "1002", False, "Ogasawara Islands"),
    ],
)
def test_shipped_table_lookups(
    country: str, raw: str, matched: str, exact: bool, place: str
) -> None:
    match = load_postal_codes().lookup(country, raw)
    assert match is not None
    assert (match.place.code, match.exact, match.place.place) == (matched, exact, place)


def test_lookup_of_an_uncovered_code_is_none() -> None:
    table = load_postal_codes()
    assert table.lookup("US", "59801") is None  # Missoula: no row for 598
    assert table.lookup("FR", "75001") is None  # no French rows


def test_shipped_table_covers_the_demo_countries_sensibly() -> None:
    table = load_postal_codes()
    assert {"US", "GB", "DE", "JP"} <= table.countries
    assert len(table) >= 250
    # Every row sits inside its country's bounding box.
    boxes = {
        "US": (18.0, 72.0, -170.0, -66.0),
        "GB": (49.8, 60.9, -8.7, 1.8),
        "DE": (47.2, 55.1, 5.8, 15.1),
        "JP": (24.0, 46.0, 122.0, 154.0),
    }
    for row in table:
        lat_lo, lat_hi, lon_lo, lon_hi = boxes[row.country]
        assert lat_lo <= row.lat <= lat_hi, row
        assert lon_lo <= row.lon <= lon_hi, row
    # Every German PLZ region 01..99 that exists (05, 11, 43 and 62 do not) has a row.
    regions = {row.code for row in table if row.country == "DE" and len(row.code) == 2}
    assert regions == {f"{n:02d}" for n in range(1, 100)} - {"05", "11", "43", "62"}
    # A specific code lies near the prefix row it refines (islands excepted, on purpose).
    rows = {(r.country, r.code): r for r in table}
    berlin, mitte = rows[("DE", "10")], rows[("DE", "10115")]
    assert haversine_km(berlin.lat, berlin.lon, mitte.lat, mitte.lon) < 5


def test_shipped_table_round_trips_through_format() -> None:
    table = load_postal_codes()
    again = parse_postal_csv(format_postal_csv(table))
    assert sorted((p.country, p.code) for p in again) == sorted((p.country, p.code) for p in table)
    assert read_postal_codes_text().startswith("#")


# --------------------------------------------------------------------------- parsing errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("# only a comment\n", "empty"),
        ("country,postcode,lat,lon,place\n", "line 1: header must be"),
        ("country,code,lat,lon,place\nUS,100,40.7,-74.0\n", "line 2: expected 5 fields"),
        ("country,code,lat,lon,place\nUS,100,north,-74.0,NYC\n", "line 2: could not convert"),
        ("country,code,lat,lon,place\nUS,100,95,-74.0,NYC\n", "line 2: latitude"),
        ("country,code,lat,lon,place\nUS,100,40.7,-74.0,\n", "line 2: the place name is empty"),
        ("country,code,lat,lon,place\nUSA,100,40.7,-74.0,NYC\n", "line 2: country"),
        ("country,code,lat,lon,place\nUS,1000000,40.7,-74.0,NYC\n", "line 2: '1000000'"),
        (
            "country,code,lat,lon,place\n# c\nUS,100,40.7,-74.0,A\nUS,100,40.7,-74.0,B\n",
            "duplicate entry US '100'",
        ),
        (
            "country,code,lat,lon,place\nGB,sw1a 1aa,51.5,-0.14,A\nUK,SW1A1AA,51.5,-0.14,B\n",
            "duplicate entry GB 'SW1A 1AA'",
        ),
    ],
)
def test_table_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(PostalTableError, match=message):
        parse_postal_csv(text)


def test_a_country_can_be_added_with_rows_only() -> None:
    text = "country,code,lat,lon,place\nFR,75,48.8566,2.3522,Paris\nFR,69,45.7640,4.8357,Lyon\n"
    table = parse_postal_csv(text)
    match = table.lookup("fr", "75 008")
    assert match is not None
    assert (match.place.place, match.exact, match.query) == ("Paris", False, "75008")


# --------------------------------------------------------------------------- GeoNames import

GEONAMES = (
    "DE\t10115\tBerlin\tBerlin\tBE\t\t00\tBerlin, Stadt\t11000\t52.5323\t13.3846\t4\n"
    "DE\t10117\tBerlin\tBerlin\tBE\t\t00\tBerlin, Stadt\t11000\t52.5170\t13.3889\t4\n"
    "DE\t80331\tMünchen\tBayern\tBY\t\t091\tMünchen, Kreisfreie Stadt\t09162\t48.1372\t11.5755\t4\n"
)


def test_geonames_rows_convert_one_per_code() -> None:
    places = places_from_geonames(GEONAMES)
    assert [(p.code, p.place) for p in places] == [
        ("10115", "Berlin"),
        ("10117", "Berlin"),
        ("80331", "München"),
    ]


def test_geonames_rows_group_by_prefix_at_the_mean_position() -> None:
    places = places_from_geonames(GEONAMES, prefix_len=2)
    assert places == [
        PostalPlace("DE", "10", 52.5247, 13.3867, "Berlin"),  # mean of the two, rounded
        PostalPlace("DE", "80", 48.1372, 11.5755, "München"),
    ]


def test_geonames_gb_outward_grouping() -> None:
    text = (
        "GB\tM1 1AE\tManchester\tEngland\tENG\t\t\t\t\t53.4794\t-2.2453\t6\n"
        "GB\tM1 2AB\tManchester\tEngland\tENG\t\t\t\t\t53.4810\t-2.2400\t6\n"
    )
    places = places_from_geonames(text, prefix_len=0)
    assert [(p.country, p.code) for p in places] == [("GB", "M1")]


def test_geonames_bad_row_names_the_line() -> None:
    with pytest.raises(PostalTableError, match="line 2"):
        places_from_geonames(GEONAMES.splitlines()[0] + "\nDE\t10115\tBerlin\n")


def test_postal_import_command_prints_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "DE.txt"
    source.write_text(GEONAMES, encoding="utf-8")
    assert postal_import_main([str(source), "--prefix", "2"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["DE,10,52.5247,13.3867,Berlin", "DE,80,48.1372,11.5755,München"]
    # The rows parse as table rows once the header is added.
    assert len(parse_postal_csv("country,code,lat,lon,place\n" + out)) == 2


def test_postal_import_command_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert postal_import_main([str(tmp_path / "nope.txt")]) == 1
    assert "error:" in capsys.readouterr().err
