"""The Amazon channel's exception tree: one root, subclasses that carry what a caller needs."""

from __future__ import annotations


class AmazonChannelError(Exception):
    """Root of every error raised by the Amazon channel."""


class ConfigError(AmazonChannelError, ValueError):
    """A seller account, marketplace or mapping setting is not acceptable."""


class UnknownMarketplace(ConfigError):
    """A marketplace id or code that the channel does not know."""


class SpApiError(AmazonChannelError):
    """SP-API answered with an error status; ``code``/``message`` come from its error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "",
        details: str = "",
        operation: str = "",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details
        self.operation = operation
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """True for throttling and server-side failures, which a later attempt may get past."""
        return self.status == 429 or self.status >= 500

    def __str__(self) -> str:
        code = f" {self.code}" if self.code else ""
        text = f"{self.operation or 'SP-API'}: HTTP {self.status}{code}: {self.args[0]}"
        if self.details:
            text += f" ({self.details})"
        if self.request_id:
            text += f" [request id {self.request_id}]"
        return text


class InvalidInputError(SpApiError):
    """400: the request was refused as invalid (bad parameter, two-minute rule, bad token)."""


class NotFoundError(SpApiError):
    """404: the order, listing, feed or document does not exist."""


class AccessDeniedError(SpApiError):
    """401/403 that a fresh access token did not cure."""


class ThrottledError(SpApiError):
    """429 QuotaExceeded after every retry was used."""


class ServerError(SpApiError):
    """5xx after every retry was used."""


class TransportError(AmazonChannelError):
    """The HTTP exchange itself failed (connection refused, reset, timeout) after retries."""


class AuthError(AmazonChannelError):
    """The Login with Amazon token exchange failed."""

    def __init__(self, message: str, *, error_code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class RefreshTokenRevokedError(AuthError):
    """LWA answered invalid_grant: the seller must authorize the application again."""


class LwaUnavailableError(AuthError):
    """The LWA endpoint failed transiently (5xx, 429, network); a later attempt may succeed."""
