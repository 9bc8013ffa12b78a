"""The device layer's exception tree: one root, subclasses that say what to do."""

from __future__ import annotations


class DeviceError(Exception):
    """Root of every printer, scanner and print-queue error; str() is a sentence for people."""


class DeviceNotUsable(DeviceError):
    """A device kind cannot work on this machine (a library or driver is missing)."""


class DeviceConfigError(DeviceError):
    """The device configuration is incomplete or contradictory."""


class PrinterOffline(DeviceError):
    """The printer could not be reached; nothing was sent, so a retry cannot print twice."""


class PrinterSendError(DeviceError):
    """The connection broke while a job was being sent; part of the job may have printed."""


class PrintJobError(DeviceError):
    """A print job cannot be rendered or is unknown; retrying will not help."""
