"""Mosquitto's password file and ACL, kept by the hub: atomic rewrite and SIGHUP reload.

Mosquitto 2.0 re-reads ``password_file`` and ``acl_file`` on SIGHUP and, on that
reload, disconnects every connected client whose username is no longer in the
password file (verified on 2.0.11, tests/provisioning/test_broker_files.py). So
revoking a store is: drop its line, rewrite, reload; its live connection is cut by
the broker itself and it cannot reconnect.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from provisioning.acl import render_acl, render_password_file

_LOGGER = logging.getLogger(__name__)
PASSWORD_FILE_MODE = 0o640  # Mosquitto (group) reads it; nobody else
ACL_FILE_MODE = 0o644


class BrokerFilesError(Exception):
    """The broker's files could not be written or the broker could not be told to reload."""


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """Where the hub writes Mosquitto's files and how it finds the broker to reload it."""

    password_file: Path
    acl_file: Path
    pid_file: Path | None = None

    def write(self, hashes: Mapping[str, str], *, hub_users: list[str]) -> bool:
        """Rewrite both files (each atomically); True when anything changed."""
        changed = _replace(self.password_file, render_password_file(hashes), PASSWORD_FILE_MODE)
        changed |= _replace(self.acl_file, render_acl(hub_users=hub_users), ACL_FILE_MODE)
        return changed

    def reload(self) -> bool:
        """Send SIGHUP to the broker named by the pid file; False when there is no pid file."""
        if self.pid_file is None:
            _LOGGER.warning("no broker pid file configured: reload Mosquitto yourself")
            return False
        try:
            pid = int(self.pid_file.read_text(encoding="ascii").strip())
        except FileNotFoundError:
            # Not running (yet): it reads the new files when it starts.
            _LOGGER.warning("broker pid file %s not found: broker not reloaded", self.pid_file)
            return False
        except (OSError, ValueError) as err:
            raise BrokerFilesError(
                f"cannot read the broker's pid from {self.pid_file}: {err}; "
                "is Mosquitto running with `pid_file` set?"
            ) from err
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError as err:
            raise BrokerFilesError(
                f"the broker pid {pid} from {self.pid_file} is not running"
            ) from err
        except PermissionError as err:
            raise BrokerFilesError(
                f"not allowed to signal the broker (pid {pid}); run the hub as the broker's user"
            ) from err
        _LOGGER.info("broker reloaded (SIGHUP to pid %d)", pid)
        return True

    def apply(self, hashes: Mapping[str, str], *, hub_users: list[str]) -> bool:
        """Write the files and reload the broker when they changed; True when reloaded."""
        return self.write(hashes, hub_users=hub_users) and self.reload()


def _replace(path: Path, text: str, mode: int) -> bool:
    """Write ``text`` to ``path`` through a temporary file and rename; False if unchanged."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    except OSError as err:
        raise BrokerFilesError(f"cannot read {path}: {err.strerror}") from err
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise BrokerFilesError(f"cannot write in {path.parent}: {err.strerror}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise BrokerFilesError(f"cannot write {path}: {err.strerror}") from err
    return True
