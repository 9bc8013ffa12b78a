"""GTIN normalisation to GTIN-14 and GS1 check-digit validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import GtinError
from protocol.gtin import gs1_check_digit, gtin14_to_display, is_valid_gtin, normalize_gtin
from tests.protocol.samples import valid_gtins

REAL_CODES = [
    ("4006381333931", "04006381333931", "4006381333931"),  # EAN-13
    ("5901234123457", "05901234123457", "5901234123457"),  # EAN-13 (GS1 example)
    ("036000291452", "00036000291452", "036000291452"),  # UPC-A
    ("96385074", "00000096385074", "96385074"),  # EAN-8
    ("00012345600012", "00012345600012", "012345600012"),  # GTIN-14 (a UPC-A padded)
    ("10012345678902", "10012345678902", "10012345678902"),  # GTIN-14 with indicator 1
]


@pytest.mark.parametrize(("code", "gtin14", "display"), REAL_CODES)
def test_real_codes(code: str, gtin14: str, display: str) -> None:
    assert normalize_gtin(code) == gtin14
    assert is_valid_gtin(code)
    assert gtin14_to_display(gtin14) == display
    assert normalize_gtin(f"  {code}\n") == gtin14


def test_upc_a_and_its_ean13_form_are_the_same_product() -> None:
    assert normalize_gtin("036000291452") == normalize_gtin("0036000291452")


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("4006381333932", "wrong check digit (expected 1)"),
        ("400638133393", "wrong check digit"),  # 12 digits, EAN-13 missing its last
        ("4006-381333931", "not all digits"),
        ("4006381333931x", "not all digits"),
        ("４００６３８１３３３９３１", "not all digits"),  # full-width digits
        ("1234567", "has 7 digits"),
        ("123456789012345", "has 15 digits"),
        ("00000000", "all zeros"),
        ("00000000000000", "all zeros"),
    ],
)
def test_bad_codes(code: str, why: str) -> None:
    with pytest.raises(GtinError) as info:
        normalize_gtin(code)
    assert why in str(info.value)
    assert info.value.reason == "invalid_gtin"
    assert not is_valid_gtin(code)


def test_non_text_is_refused() -> None:
    with pytest.raises(GtinError, match="must be text"):
        normalize_gtin(4006381333931)  # type: ignore[arg-type]
    with pytest.raises(GtinError, match="not all digits"):
        gs1_check_digit("")


def test_check_digit_of_known_bodies() -> None:
    assert gs1_check_digit("400638133393") == 1
    assert gs1_check_digit("03600029145") == 2
    assert gs1_check_digit("9638507") == 4


@given(code=valid_gtins())
def test_any_valid_code_normalises_to_its_left_padded_gtin14(code: str) -> None:
    gtin14 = normalize_gtin(code)
    assert gtin14 == code.zfill(14)
    assert len(gtin14) == 14
    assert normalize_gtin(gtin14) == gtin14
    assert normalize_gtin(gtin14_to_display(gtin14)) == gtin14


@given(code=valid_gtins(), data=st.data())
def test_any_single_mutated_digit_is_rejected(code: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(min_value=0, max_value=len(code) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    mutated = code[:position] + replacement + code[position + 1 :]
    assert not is_valid_gtin(mutated)
    with pytest.raises(GtinError):
        normalize_gtin(mutated)
