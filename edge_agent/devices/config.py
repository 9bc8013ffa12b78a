"""Device settings (the ``[devices]`` table of the edge agent's configuration).

Example::

    [devices.printer]
    kind = "network"          # network | serial | usb | file | filesink | none
    host = "192.168.1.50"
    profile = "epson-tm-t20ii"
    columns = 48
    drawer_pin = 2
    offline_alarm_s = 120

    [devices.scanner]
    kind = "serial"           # serial | wedge | none
    url = "/dev/ttyACM0"
    suffix = "cr"
    debounce_ms = 400
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge_agent.devices.profiles import DEFAULT_PROFILE, PROFILES
from edge_agent.devices.scanner import DEFAULT_DEBOUNCE_MS, Suffix
from edge_agent.domain.receipt import CodeStyle

PrinterKind = Literal["network", "serial", "usb", "file", "filesink", "none"]
ScannerKind = Literal["serial", "wedge", "none"]


def _int_or_hex(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number (write USB ids like 0x04b8)") from None
    return value


class PrinterConfig(BaseModel):
    """Which receipt printer, how it is connected, and how receipts are laid out."""

    model_config = ConfigDict(extra="forbid")

    kind: PrinterKind = "none"
    # network
    host: str | None = None
    port: int = Field(9100, ge=1, le=65535)
    # serial and file ("device" is /dev/ttyUSB0 or /dev/usb/lp0)
    device: str | None = None
    baudrate: int = Field(9600, gt=0)
    dsrdtr: bool = False
    xonxoff: bool = False
    # usb
    vendor_id: int | None = Field(None, ge=0, le=0xFFFF)
    product_id: int | None = Field(None, ge=0, le=0xFFFF)
    usb_interface: int = Field(0, ge=0)
    in_ep: int = Field(0x82, ge=0, le=0xFF)
    out_ep: int = Field(0x01, ge=0, le=0xFF)
    # filesink
    directory: Path | None = None
    # every kind
    timeout_s: float = Field(5.0, gt=0)
    status_timeout_s: float = Field(1.0, gt=0)
    query_status: bool = True
    profile: str = DEFAULT_PROFILE
    columns: Literal[32, 42, 48] | None = None
    code_style: CodeStyle = CodeStyle.BARCODE
    drawer_pin: Literal[2, 5] = 2
    open_drawer_on_cash: bool = True
    offline_alarm_s: float = Field(120.0, gt=0)
    status_poll_s: float = Field(5.0, gt=0)
    retry_initial_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    font_paths: list[str] | None = None

    @field_validator("vendor_id", "product_id", "in_ep", "out_ep", mode="before")
    @classmethod
    def _hex(cls, value: Any) -> Any:
        return _int_or_hex(value)

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown printer profile {value!r}; choose one of {sorted(PROFILES)}")
        return value

    @model_validator(mode="after")
    def _required_per_kind(self) -> PrinterConfig:
        needs: dict[str, list[str]] = {
            "network": ["host"],
            "serial": ["device"],
            "file": ["device"],
            "usb": ["vendor_id", "product_id"],
            "filesink": ["directory"],
        }
        missing = [name for name in needs.get(self.kind, []) if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"printer kind {self.kind!r} needs {', '.join('printer.' + m for m in missing)}"
            )
        return self


class ScannerConfig(BaseModel):
    """Which barcode scanner: a serial/USB-CDC one, the browser's keyboard wedge, or none."""

    model_config = ConfigDict(extra="forbid")

    kind: ScannerKind = "wedge"
    url: str | None = None  # /dev/ttyACM0, /dev/serial/by-id/..., or a pyserial URL (loop://)
    baudrate: int = Field(9600, gt=0)
    suffix: Suffix = Suffix.CR
    debounce_ms: int = Field(DEFAULT_DEBOUNCE_MS, ge=0, le=10_000)
    reconnect_interval_s: float = Field(1.0, gt=0)
    frame_timeout_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _url_for_serial(self) -> ScannerConfig:
        if self.kind == "serial" and not self.url:
            raise ValueError(
                "scanner kind 'serial' needs scanner.url (e.g. /dev/ttyACM0; auto-discovery "
                "cannot see every port, so name it)"
            )
        return self


class DeviceConfig(BaseModel):
    """All store hardware settings of one till."""

    model_config = ConfigDict(extra="forbid")

    printer: PrinterConfig = Field(default_factory=PrinterConfig)
    scanner: ScannerConfig = Field(default_factory=ScannerConfig)
