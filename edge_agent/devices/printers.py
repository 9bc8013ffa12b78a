"""Printer transports behind one narrow interface: ``send(job_id, data)`` and ``status()``.

Every adapter takes finished ESC/POS bytes (see ``render.py``) and only moves
them: Network (raw TCP, port 9100), Serial, Usb and File go through the
python-escpos printer classes; FileSink writes each job's bytes to its own file
for development and the demo. Third-party errors are translated here into
``PrinterOffline`` (nothing was sent, safe to retry) and ``PrinterSendError``
(the link broke mid-job).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from edge_agent.devices import _escpos
from edge_agent.devices.errors import (
    DeviceNotUsable,
    PrinterOffline,
    PrinterSendError,
)
from edge_agent.devices.status import (
    STATUS_OFFLINE_CAUSE,
    STATUS_PAPER,
    STATUS_PRINTER,
    PaperState,
    PrinterStatus,
    status_from_dle_eot,
    status_query,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_NETWORK_PORT: Final = 9100
DEFAULT_TIMEOUT_S: Final = 5.0
DEFAULT_STATUS_TIMEOUT_S: Final = 1.0


@runtime_checkable
class Printer(Protocol):
    """What the print queue needs from any printer, whatever its connection."""

    kind: str

    def send(self, job_id: str, data: bytes) -> None:
        """Deliver one job's bytes; raise PrinterOffline or PrinterSendError."""

    def status(self) -> PrinterStatus:
        """Return the printer's current state; never raise for an unreachable printer."""

    def describe(self) -> str:
        """Return where the printer is, for logs and the status page."""


def _query_dle_eot(device: Any, read: Callable[[], bytes] | None = None) -> PrinterStatus:
    """Ask DLE EOT 1, 2 and 4 through an open python-escpos device and decode the answers."""
    answers: dict[int, int | None] = {}
    for n in (STATUS_PRINTER, STATUS_OFFLINE_CAUSE, STATUS_PAPER):
        device._raw(status_query(n))
        try:
            reply = read() if read is not None else device._read()
        except TimeoutError:
            reply = b""
        answers[n] = reply[-1] if reply else None
        if reply == b"" and n == STATUS_PRINTER:
            # No answer to the first query: the model (or its interface) has no
            # real-time status. Do not wait for the other two timeouts.
            break
    return status_from_dle_eot(
        answers.get(STATUS_PRINTER), answers.get(STATUS_OFFLINE_CAUSE), answers.get(STATUS_PAPER)
    )


class NetworkPrinter:
    """An Ethernet/Wi-Fi printer speaking raw ESC/POS on TCP (usually port 9100)."""

    kind = "network"

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_NETWORK_PORT,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        status_timeout_s: float = DEFAULT_STATUS_TIMEOUT_S,
        query_status: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.status_timeout_s = status_timeout_s
        self.query_status = query_status

    def describe(self) -> str:
        """Return host:port."""
        return f"tcp://{self.host}:{self.port}"

    def _open(self, timeout_s: float) -> Any:
        mod = _escpos.printer_module()
        p = mod.Network(self.host, port=self.port, timeout=timeout_s)
        try:
            p.open()
        except _escpos.exceptions_module().DeviceNotFoundError as err:
            raise PrinterOffline(f"printer {self.describe()} is not reachable: {err}") from err
        return p

    def send(self, job_id: str, data: bytes) -> None:
        """Open a connection, write the job, close (the printer sees one job per connection)."""
        p = self._open(self.timeout_s)
        try:
            p._raw(data)
        except OSError as err:
            raise PrinterSendError(
                f"connection to {self.describe()} broke while sending job {job_id}: {err}"
            ) from err
        finally:
            p.close()
        _LOGGER.debug("sent job %s (%d bytes) to %s", job_id, len(data), self.describe())

    def status(self) -> PrinterStatus:
        """Connect and ask DLE EOT; unreachable means offline."""
        try:
            p = self._open(self.status_timeout_s)
        except PrinterOffline as err:
            return PrinterStatus(online=False, detail=str(err))
        try:
            if not self.query_status:
                return PrinterStatus(online=True, detail="status queries disabled")
            return _query_dle_eot(p)
        except OSError as err:
            return PrinterStatus(online=False, detail=f"status query failed: {err}")
        finally:
            p.close()


class SerialPrinter:
    """A printer on an RS-232 or USB-serial port."""

    kind = "serial"

    def __init__(
        self,
        device: str,
        *,
        baudrate: int = 9600,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        status_timeout_s: float = DEFAULT_STATUS_TIMEOUT_S,
        dsrdtr: bool = False,
        xonxoff: bool = False,
        query_status: bool = True,
    ) -> None:
        mod = _escpos.printer_module()
        if not mod.Serial.is_usable():
            raise DeviceNotUsable("serial printers need pyserial: pip install pyserial")
        self.device = device
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.status_timeout_s = status_timeout_s
        self.dsrdtr = dsrdtr
        self.xonxoff = xonxoff
        self.query_status = query_status

    def describe(self) -> str:
        """Return the port and speed."""
        return f"{self.device}@{self.baudrate}"

    def _open(self, timeout_s: float) -> Any:
        mod = _escpos.printer_module()
        p = mod.Serial(
            devfile=self.device,
            baudrate=self.baudrate,
            timeout=timeout_s,
            dsrdtr=self.dsrdtr,
            xonxoff=self.xonxoff,
        )
        try:
            p.open()
        except _escpos.exceptions_module().DeviceNotFoundError as err:
            raise PrinterOffline(
                f"serial printer {self.describe()} cannot be opened: {err}"
            ) from err
        # python-escpos sets no write timeout: a printer holding flow control (paper
        # out) would block the print queue's thread forever.
        p.device.write_timeout = timeout_s
        return p

    def send(self, job_id: str, data: bytes) -> None:
        """Write the job; the write timeout grows with the job's size at this speed."""
        p = self._open(self.timeout_s)
        # pyserial's write timeout covers the whole write: a 50 KB receipt with
        # images takes about 52 s at 9600 baud (10 bits a byte), so allow for it.
        p.device.write_timeout = self.timeout_s + len(data) * 10 * 1.5 / self.baudrate
        try:
            p._raw(data)
        except OSError as err:  # pyserial's SerialException is an OSError
            raise PrinterSendError(
                f"serial printer {self.describe()} failed during job {job_id}: {err}"
            ) from err
        finally:
            _close_serial(p)

    def status(self) -> PrinterStatus:
        """Ask DLE EOT over the port; a port that does not open means offline."""
        try:
            p = self._open(self.status_timeout_s)
        except PrinterOffline as err:
            return PrinterStatus(online=False, detail=str(err))
        try:
            if not self.query_status:
                return PrinterStatus(online=True, detail="status queries disabled")
            p.device.reset_input_buffer()
            # python-escpos reads 16 bytes, which on a serial port waits for the whole
            # timeout; each answer is one byte.
            return _query_dle_eot(p, read=lambda: p.device.read(1))
        except OSError as err:
            return PrinterStatus(online=False, detail=f"status query failed: {err}")
        finally:
            _close_serial(p)


class UsbPrinter:
    """A USB printer-class device driven through libusb (pyusb)."""

    kind = "usb"

    def __init__(
        self,
        vendor_id: int,
        product_id: int,
        *,
        interface: int = 0,
        in_ep: int = 0x82,
        out_ep: int = 0x01,
        timeout_ms: int = 5000,
        query_status: bool = True,
    ) -> None:
        mod = _escpos.printer_module()
        if not mod.Usb.is_usable():
            raise DeviceNotUsable(
                "USB printers need pyusb and libusb: pip install pyusb; apt-get install "
                "libusb-1.0-0 (or use the 'file' kind with /dev/usb/lp0)"
            )
        self.vendor_id = vendor_id
        self.product_id = product_id
        self.interface = interface
        self.in_ep = in_ep
        self.out_ep = out_ep
        self.timeout_ms = timeout_ms
        self.query_status = query_status

    def describe(self) -> str:
        """Return vendor:product in hex."""
        return f"usb:{self.vendor_id:04x}:{self.product_id:04x}"

    def _open(self) -> Any:
        mod = _escpos.printer_module()
        p = mod.Usb(
            idVendor=self.vendor_id,
            idProduct=self.product_id,
            timeout=self.timeout_ms,
            in_ep=self.in_ep,
            out_ep=self.out_ep,
        )
        try:
            p.open()
        except _escpos.exceptions_module().Error as err:
            raise PrinterOffline(f"USB printer {self.describe()} not found: {err}") from err
        return p

    def send(self, job_id: str, data: bytes) -> None:
        """Write the job to the bulk-out endpoint."""
        p = self._open()
        try:
            p._raw(data)
        except OSError as err:
            raise PrinterSendError(
                f"USB printer {self.describe()} failed during job {job_id}: {err}"
            ) from err
        finally:
            _close_quietly(p)

    def status(self) -> PrinterStatus:
        """Ask DLE EOT over the bulk endpoints."""
        try:
            p = self._open()
        except PrinterOffline as err:
            return PrinterStatus(online=False, detail=str(err))
        try:
            if not self.query_status:
                return PrinterStatus(online=True, detail="status queries disabled")
            return _query_dle_eot(p)
        except OSError as err:  # pyusb's USBError is an OSError
            return PrinterStatus(online=False, detail=f"status query failed: {err}")
        finally:
            _close_quietly(p)


class FilePrinter:
    """A printer that is a device file, e.g. the Linux usblp driver's /dev/usb/lp0."""

    kind = "file"

    def __init__(self, device: str) -> None:
        self.device = device

    def describe(self) -> str:
        """Return the device path."""
        return self.device

    def send(self, job_id: str, data: bytes) -> None:
        """Write the job to the device file."""
        mod = _escpos.printer_module()
        p = mod.File(devfile=self.device)
        try:
            p.open()
        except _escpos.exceptions_module().DeviceNotFoundError as err:
            raise PrinterOffline(f"printer device {self.device} cannot be opened: {err}") from err
        try:
            p._raw(data)
        except OSError as err:
            raise PrinterSendError(f"writing job {job_id} to {self.device} failed: {err}") from err
        finally:
            _close_quietly(p)

    def status(self) -> PrinterStatus:
        """Report online when the device exists and is writable (no status channel)."""
        if not os.path.exists(self.device):
            return PrinterStatus(online=False, detail=f"{self.device} does not exist (unplugged?)")
        if not os.access(self.device, os.W_OK):
            return PrinterStatus(online=False, detail=f"no write permission on {self.device}")
        return PrinterStatus(online=True, detail="device file has no status channel")


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")
# Marker files a person (or the demo) can create in a file-sink directory to
# simulate printer trouble.
SINK_MARKERS: Final[dict[str, str]] = {
    "OFFLINE": "offline",
    "PAPER_OUT": "paper_out",
    "PAPER_NEAR_END": "paper_near_end",
    "COVER_OPEN": "cover_open",
}


def job_file_stem(job_id: str) -> str:
    """Return a file-name-safe form of a job id."""
    return _UNSAFE_NAME.sub("_", job_id)[:120] or "_"


class FileSinkPrinter:
    """Development and demo printer: each job becomes ``<dir>/<job_id>.bin`` plus a ``.txt``.

    The ``.bin`` holds the exact ESC/POS bytes; the ``.txt`` the decoded paper
    for people to read. Writing is idempotent by job id. Create an ``OFFLINE``,
    ``PAPER_OUT``, ``PAPER_NEAR_END`` or ``COVER_OPEN`` file in the directory to
    simulate that state.
    """

    kind = "filesink"

    def __init__(
        self,
        directory: str | Path,
        *,
        escpos_profile: str = "default",
        kanji_codec: str = "gb18030",
    ) -> None:
        self.directory = Path(directory)
        self.escpos_profile = escpos_profile
        self.kanji_codec = kanji_codec

    def describe(self) -> str:
        """Return the directory."""
        return str(self.directory)

    def paths(self, job_id: str) -> tuple[Path, Path]:
        """Return the .bin and .txt paths of a job."""
        stem = job_file_stem(job_id)
        return self.directory / f"{stem}.bin", self.directory / f"{stem}.txt"

    def send(self, job_id: str, data: bytes) -> None:
        """Write the job's files atomically; the same job id twice writes nothing new."""
        state = self.status()
        if not state.online:
            raise PrinterOffline(f"file sink {self.directory} is offline: {state.detail}")
        bin_path, txt_path = self.paths(job_id)
        if bin_path.exists() and bin_path.read_bytes() == data:
            return
        from edge_agent.devices.escpos_decode import describe

        try:
            text = describe(data, escpos_profile=self.escpos_profile, kanji_codec=self.kanji_codec)
        except Exception as err:  # noqa: BLE001 - the readable copy must never lose the job
            text = f"(could not decode: {err})\n"
        try:
            _atomic_write(txt_path, text.encode("utf-8"))
            _atomic_write(bin_path, data)
        except OSError as err:
            raise PrinterSendError(f"cannot write job {job_id} to {self.directory}: {err}") from err

    def status(self) -> PrinterStatus:
        """Read the simulated state from marker files; a missing directory is offline."""
        d = self.directory
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            return PrinterStatus(online=False, detail=f"cannot create {d}: {err}")
        if (d / "OFFLINE").exists():
            return PrinterStatus(online=False, detail="OFFLINE marker file present")
        if not os.access(d, os.W_OK):
            return PrinterStatus(online=False, detail=f"no write permission on {d}")
        paper = PaperState.OK
        if (d / "PAPER_OUT").exists():
            paper = PaperState.OUT
        elif (d / "PAPER_NEAR_END").exists():
            paper = PaperState.NEAR_END
        return PrinterStatus(
            online=True, paper=paper, cover_open=(d / "COVER_OPEN").exists(), detail="file sink"
        )


class NullPrinter:
    """No printer configured: status says so and every job stays queued."""

    kind = "none"

    def describe(self) -> str:
        """Return a short note."""
        return "no printer configured"

    def send(self, job_id: str, data: bytes) -> None:
        """Refuse: there is nowhere to print."""
        raise PrinterOffline("no printer is configured for this till")

    def status(self) -> PrinterStatus:
        """Return offline with the reason."""
        return PrinterStatus(online=False, detail="no printer configured")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _close_serial(p: Any) -> None:
    # Not python-escpos's close(): its flush() (tcdrain) waits forever on a printer that
    # holds flow control (paper out); the kernel's close bounds the wait.
    device = p._device
    p._device = False
    if device:
        try:
            device.close()
        except OSError as err:
            _LOGGER.debug("closing serial port %s failed: %s", getattr(device, "port", "?"), err)


def _close_quietly(p: Any) -> None:
    try:
        p.close()
    except Exception as err:  # noqa: BLE001 - closing must not hide the real outcome
        _LOGGER.debug("closing %s failed: %s", type(p).__name__, err)
