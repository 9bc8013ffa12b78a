"""GTIN normalisation and check-digit validation.

EAN-8, UPC-A (12), EAN-13 and GTIN-14 codes all normalise to GTIN-14: the code
left-padded with zeros to 14 digits. The GS1 check digit is verified on the way.
"""

from __future__ import annotations

from typing import Final

from protocol.errors import GtinError

GTIN_LENGTHS: Final = frozenset({8, 12, 13, 14})


def gs1_check_digit(body: str) -> int:
    """Return the GS1 mod-10 check digit for the digits before it."""
    if not isinstance(body, str) or not body.isascii() or not body.isdigit():
        raise GtinError(f"not all digits: {body!r}")
    total = 0
    # Weights alternate 3, 1, ... starting from the rightmost body digit.
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid_gtin(code: str) -> bool:
    """Return True if code is an EAN-8, UPC-A, EAN-13 or GTIN-14 with a correct check digit."""
    try:
        normalize_gtin(code)
    except GtinError:
        return False
    return True


def normalize_gtin(code: str) -> str:
    """Validate a scanned or typed GTIN and return it as GTIN-14.

    Surrounding whitespace is ignored; anything else that is not 8, 12, 13 or 14
    ASCII digits with a correct check digit raises GtinError with a reason a
    cashier can read.
    """
    if not isinstance(code, str):
        raise GtinError(f"barcode must be text, got {type(code).__name__}")
    text = code.strip()
    if not text:
        raise GtinError("empty barcode")
    if not (text.isascii() and text.isdigit()):
        raise GtinError(f"barcode {text!r} is not all digits")
    if len(text) not in GTIN_LENGTHS:
        raise GtinError(
            f"barcode {text!r} has {len(text)} digits, expected 8, 12, 13 or 14 (EAN-8, UPC-A, "
            "EAN-13, GTIN-14)"
        )
    expected = gs1_check_digit(text[:-1])
    if int(text[-1]) != expected:
        raise GtinError(f"barcode {text!r} has a wrong check digit (expected {expected})")
    if text.count("0") == len(text):
        # Passes the mod-10 check but GS1 never allocates it; it is what a
        # misread or an empty field produces.
        raise GtinError(f"barcode {text!r} is all zeros")
    return text.zfill(14)


def gtin14_to_display(gtin14: str) -> str:
    """Return the shortest conventional form of a GTIN-14 (EAN-8, UPC-A or EAN-13) for printing."""
    normalized = normalize_gtin(gtin14)
    for length in (8, 12, 13):
        if normalized[: 14 - length] == "0" * (14 - length):
            return normalized[14 - length :]
    return normalized
