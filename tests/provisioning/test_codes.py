"""Enrollment codes: format, typo detection, confusable letters."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.codes import (
    ALPHABET,
    EnrollmentCodeError,
    _check_symbol,
    hash_code,
    new_code,
    normalize_code,
)


def test_new_code_has_the_typeable_shape():
    code = new_code()
    assert len(code) == 9
    assert code[4] == "-"
    assert all(ch in ALPHABET for ch in code.replace("-", ""))


def test_codes_are_not_repeated():
    assert len({new_code() for _ in range(2000)}) == 2000


def test_typed_code_is_read_loosely():
    code = new_code()
    typed = " " + code.lower().replace("-", " ") + " "
    assert normalize_code(typed) == code.replace("-", "")


def test_confusable_letters_read_as_digits():
    body = "0011V00"
    canonical = body + _check_symbol(body)
    typed = "oOiL" + "u" + canonical[5:]  # O->0, I->1, L->1, U->V
    assert normalize_code(typed) == canonical


@given(st.integers(min_value=0, max_value=7), st.sampled_from(ALPHABET))
def test_any_single_wrong_symbol_is_caught(position, replacement):
    canonical = normalize_code(new_code())
    if canonical[position] == replacement:
        return
    typo = canonical[:position] + replacement + canonical[position + 1 :]
    with pytest.raises(EnrollmentCodeError, match="typo"):
        normalize_code(typo)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "8 letters"),
        ("ABCD-EFG", "8 letters"),
        ("ABCD-EFGHJ", "8 letters"),
        ("AB*D-EFGH", "\\*"),
    ],
)
def test_malformed_codes_say_why(typed, reason):
    with pytest.raises(EnrollmentCodeError, match=reason):
        normalize_code(typed)


def test_hash_is_keyed_and_stable():
    canonical = normalize_code(new_code())
    assert hash_code(canonical, pepper=b"a") == hash_code(canonical, pepper=b"a")
    assert hash_code(canonical, pepper=b"a") != hash_code(canonical, pepper=b"b")
    assert canonical not in hash_code(canonical, pepper=b"a")
