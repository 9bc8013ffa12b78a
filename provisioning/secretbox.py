"""Hub secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key from the environment.

The same key, through HMAC with a fixed label, gives the pepper of the enrollment-code
hashes, so a copy of the database alone reveals neither secrets nor codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

CODE_PEPPER_LABEL = b"acorn enrollment code pepper v1"


class SecretKeyError(ValueError):
    """The secrets key is missing, malformed, or not the one the data was encrypted with."""


def new_key() -> str:
    """Return a fresh key for ACORN_HUB_SECRETS_KEY."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as err:
        raise SecretKeyError(
            "ACORN_HUB_SECRETS_KEY is not a valid key (32 bytes, URL-safe base64); "
            "make one with `acorn provision keygen`"
        ) from err


def encrypt(key: str, plaintext: str) -> bytes:
    """Encrypt a secret for storage."""
    return _fernet(key).encrypt(plaintext.encode("utf-8"))


def decrypt(key: str, ciphertext: bytes) -> str:
    """Decrypt a stored secret; SecretKeyError when the key does not fit."""
    try:
        return _fernet(key).decrypt(ciphertext).decode("utf-8")
    except InvalidToken as err:
        raise SecretKeyError(
            "a stored secret cannot be decrypted with ACORN_HUB_SECRETS_KEY (wrong key?)"
        ) from err


def code_pepper(key: str) -> bytes:
    """The key of the enrollment-code hashes, derived from the secrets key."""
    _fernet(key)  # validate
    raw = base64.urlsafe_b64decode(key.encode("ascii"))
    return hmac.new(raw, CODE_PEPPER_LABEL, hashlib.sha256).digest()
