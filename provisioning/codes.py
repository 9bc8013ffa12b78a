"""One-time enrollment codes: short, human-typeable, hard to guess, checked for typos.

A code is eight symbols of Crockford's base-32 alphabet shown as ``XXXX-XXXX``:
seven random symbols (35 bits, about 34 billion codes) and one check symbol, so
a mistyped symbol is caught before the hub is asked. Crockford's alphabet has
no I, L, O or U; on input those are read as 1, 1, 0 and V, case and dashes and
spaces are ignored. The hub stores only a hash of the code.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_SYMBOLS: Final = 7
_CONFUSABLE: Final = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


class EnrollmentCodeError(ValueError):
    """An enrollment code is malformed or fails its check symbol."""


def _check_symbol(body: str) -> str:
    # Weighted sum mod 32 with odd weights: odd weights are invertible mod 32, so any
    # single wrong symbol changes the check symbol; most neighbour swaps do too.
    total = sum((2 * i + 1) * ALPHABET.index(ch) for i, ch in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_code() -> str:
    """Return a fresh random enrollment code formatted as XXXX-XXXX."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_SYMBOLS))
    return format_code(body + _check_symbol(body))


def format_code(raw: str) -> str:
    """Insert the dash: ABCDEFGH -> ABCD-EFGH."""
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(typed: str) -> str:
    """Return the canonical 8 symbols of a typed code; EnrollmentCodeError says why not."""
    cleaned = "".join(ch for ch in typed.upper() if ch not in "- \t").translate(_CONFUSABLE)
    if len(cleaned) != RANDOM_SYMBOLS + 1:
        raise EnrollmentCodeError(
            f"an enrollment code has 8 letters and digits (XXXX-XXXX); got {len(cleaned)}"
        )
    bad = sorted({ch for ch in cleaned if ch not in ALPHABET})
    if bad:
        raise EnrollmentCodeError(f"an enrollment code cannot contain {' '.join(bad)}")
    if _check_symbol(cleaned[:-1]) != cleaned[-1]:
        raise EnrollmentCodeError("that code has a typo: check each letter and digit and try again")
    return cleaned


def hash_code(canonical: str, *, pepper: bytes) -> str:
    """Return the keyed hash under which the hub stores a code (never the code itself)."""
    return hmac.new(pepper, canonical.encode("ascii"), hashlib.sha256).hexdigest()
