"""The store layer's exception tree: one root, subclasses that carry what went wrong."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every store error; ``code`` is a short machine code, str() a sentence for people."""

    code: str = "store_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class StoreUnavailable(StoreError):
    """The database refused a write (locked, disk full, I/O error); nothing was written."""

    code = "store_unavailable"


class DatabaseLocked(StoreUnavailable):
    """Another process holds the database lock longer than the busy timeout."""

    code = "database_locked"


class DiskFull(StoreUnavailable):
    """The disk (or the database's size limit) is full."""

    code = "disk_full"


class SchemaTooNew(StoreError):
    """The database file was written by a newer agent than this one."""

    code = "schema_too_new"

    def __init__(self, found: int, known: int) -> None:
        super().__init__(
            f"the edge database is at schema version {found} but this agent knows only up to "
            f"{known}; upgrade the agent (never open a database with an older agent)"
        )
        self.found = found
        self.known = known


class NotFound(StoreError):
    """A record the caller named does not exist."""

    code = "not_found"


class UnknownBarcode(NotFound):
    """A valid barcode that is not in the catalog."""

    code = "unknown_barcode"

    def __init__(self, gtin14: str) -> None:
        super().__init__(f"barcode {gtin14} is not in the catalog; nothing was added")
        self.gtin14 = gtin14


class UnknownProduct(NotFound):
    """A SKU that is not in the catalog (or no longer active)."""

    code = "unknown_product"

    def __init__(self, sku: str) -> None:
        super().__init__(f"product {sku!r} is not in the catalog")
        self.sku = sku


class Conflict(StoreError):
    """The change contradicts what is stored (duplicate id, already closed shift, ...)."""

    code = "conflict"


class AuthError(StoreError):
    """A PIN or cashier id was not accepted."""

    code = "auth_failed"
