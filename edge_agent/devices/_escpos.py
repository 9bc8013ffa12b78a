"""Import python-escpos once, tamed.

python-escpos 3.1 has three habits an agent cannot live with (see docs/hardware.md):

- ``escpos.capabilities`` re-parses its printer database (about 130 ms) unless
  ``ESCPOS_CAPABILITIES_PICKLE_DIR`` points at a cache, and calls ``mkdtemp()``
  on every import even when the variable is set, leaking an empty directory;
- it calls ``logging.basicConfig()`` at import, which would reconfigure our root logger;
- it reports barcode renderers with bare ``print()`` to stdout.

``load()`` sets a fixed cache directory, points ``tempfile`` at a scratch folder
during the import and removes it afterwards, restores the root logger's handlers,
and shadows ``print`` inside the library's modules with a debug log call.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

_LOGGER = logging.getLogger(__name__)
_LOCK = threading.Lock()
_MODULES: dict[str, ModuleType] = {}


def default_cache_dir() -> Path:
    """Return the directory for python-escpos's capabilities pickle."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "acorn" / "escpos"


def _quiet_print(*args: Any, **_kwargs: Any) -> None:
    _LOGGER.debug("python-escpos: %s", " ".join(str(a) for a in args))


def load() -> dict[str, ModuleType]:
    """Import python-escpos (printer classes, core, constants, capabilities) and return them."""
    with _LOCK:
        if _MODULES:
            return _MODULES
        if not os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR"):
            cache = default_cache_dir()
            try:
                cache.mkdir(parents=True, exist_ok=True)
                os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(cache)
            except OSError as err:
                _LOGGER.warning("cannot create the escpos cache %s: %s", cache, err)
        root_handlers = list(logging.root.handlers)
        scratch = tempfile.mkdtemp(prefix="acorn-escpos-")
        saved_tempdir = tempfile.tempdir
        tempfile.tempdir = scratch
        try:
            import escpos.capabilities as capabilities
            import escpos.constants as constants
            import escpos.escpos as core
            import escpos.exceptions as exceptions
            import escpos.magicencode as magicencode
            import escpos.printer as printer
        finally:
            tempfile.tempdir = saved_tempdir
            shutil.rmtree(scratch, ignore_errors=True)
            logging.root.handlers[:] = root_handlers
        for module in (core, capabilities):
            # Shadow the builtin inside the library only; thread-safe, unlike redirect_stdout.
            setattr(module, "print", _quiet_print)  # noqa: B010
        _MODULES.update(
            printer=printer,
            core=core,
            constants=constants,
            capabilities=capabilities,
            exceptions=exceptions,
            magicencode=magicencode,
        )
        return _MODULES


def printer_module() -> Any:
    """Return ``escpos.printer`` (Dummy, Network, Serial, Usb, File)."""
    return load()["printer"]


def exceptions_module() -> Any:
    """Return ``escpos.exceptions``."""
    return load()["exceptions"]


def capabilities() -> dict[str, Any]:
    """Return python-escpos's printer database (profiles and encodings)."""
    caps: dict[str, Any] = load()["capabilities"].CAPABILITIES
    return caps


def codepage_chars(encoding: str) -> str:
    """Return the 128 characters of an escpos code page's upper half (bytes 0x80-0xFF)."""
    encoder = load()["magicencode"].Encoder
    try:
        return "".join(encoder._get_codepage_char_list(encoding))
    except (LookupError, KeyError, AssertionError, ValueError):
        return ""
