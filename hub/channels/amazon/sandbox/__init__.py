"""A stateful, loopback-only emulator of the SP-API operations Acorn calls (see docs/amazon.md)."""

from hub.channels.amazon.sandbox.app import create_sandbox_app
from hub.channels.amazon.sandbox.server import SandboxServer
from hub.channels.amazon.sandbox.state import SandboxState, Settings

__all__ = ["SandboxServer", "SandboxState", "Settings", "create_sandbox_app"]
