"""Channel health (pure): token state, import lag, throttling, error rate, feed errors -> alarms.

The client counts its calls in :class:`ClientStats`; :func:`evaluate_health` turns
those figures into alarms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta


class TokenState(enum.StrEnum):
    """What the client knows about the account's authorization."""

    UNKNOWN = "unknown"
    VALID = "valid"
    REVOKED = "revoked"
    FAILING = "failing"


@dataclass
class OperationStats:
    """Counters of one operation."""

    calls: int = 0
    ok: int = 0
    throttled: int = 0
    server_errors: int = 0
    client_errors: int = 0
    transport_errors: int = 0


@dataclass
class ClientStats:
    """Counters and last outcomes of a client, the raw material of channel health."""

    operations: dict[str, OperationStats] = field(default_factory=dict)
    token_state: TokenState = TokenState.UNKNOWN
    token_refreshes: int = 0
    last_request_id: str | None = None
    last_success_at: datetime | None = None
    last_error: str = ""

    def of(self, operation: str) -> OperationStats:
        """The counters of ``operation`` (created on first use)."""
        return self.operations.setdefault(operation, OperationStats())

    @property
    def calls(self) -> int:
        """HTTP calls made, every attempt counted."""
        return sum(s.calls for s in self.operations.values())

    @property
    def throttled(self) -> int:
        """Calls answered 429."""
        return sum(s.throttled for s in self.operations.values())

    @property
    def errors(self) -> int:
        """Calls that failed with 5xx, 4xx (but 429) or a network error."""
        return sum(
            s.server_errors + s.client_errors + s.transport_errors for s in self.operations.values()
        )


class Severity(enum.StrEnum):
    """How urgent an alarm is."""

    WARNING = "warning"
    CRITICAL = "critical"


class HealthStatus(enum.StrEnum):
    """The channel's overall state."""

    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Alarm:
    """Something an operator should look at."""

    code: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When a figure becomes an alarm."""

    import_lag_warning: timedelta = timedelta(minutes=30)
    import_lag_critical: timedelta = timedelta(hours=2)
    error_rate_warning: float = 0.10
    throttle_rate_warning: float = 0.25
    min_calls: int = 20
    """Rates are judged only over at least this many calls."""


@dataclass(frozen=True, slots=True)
class HealthInput:
    """The figures of one account, gathered by the shell."""

    account: str
    now: datetime
    token_state: TokenState
    last_import_at: datetime | None
    """When an import last completed (every page read)."""
    calls: int
    throttled: int
    errors: int
    feed_errors: int
    """SKUs refused by recent feed processing reports or patches."""


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """The verdict: status, alarms and the figures behind them."""

    account: str
    status: HealthStatus
    alarms: tuple[Alarm, ...]
    import_lag: timedelta | None
    error_rate: float
    throttle_rate: float


def health_input(
    account: str,
    stats: ClientStats,
    *,
    now: datetime,
    last_import_at: datetime | None,
    feed_errors: int,
) -> HealthInput:
    """Collect a client's counters into a HealthInput."""
    return HealthInput(
        account=account,
        now=now,
        token_state=stats.token_state,
        last_import_at=last_import_at,
        calls=stats.calls,
        throttled=stats.throttled,
        errors=stats.errors,
        feed_errors=feed_errors,
    )


def evaluate_health(data: HealthInput, thresholds: HealthThresholds | None = None) -> ChannelHealth:
    """Turn the figures into alarms; any critical alarm makes the channel FAILING."""
    t = thresholds or HealthThresholds()
    alarms: list[Alarm] = []
    if data.token_state is TokenState.REVOKED:
        alarms.append(
            Alarm(
                "refresh_token_revoked",
                Severity.CRITICAL,
                f"{data.account}: Amazon refused the refresh token (invalid_grant); the seller "
                "must authorize the application again in Seller Central.",
            )
        )
    elif data.token_state is TokenState.FAILING:
        alarms.append(
            Alarm(
                "token_failing",
                Severity.WARNING,
                f"{data.account}: access tokens cannot be obtained right now.",
            )
        )
    lag = None if data.last_import_at is None else max(timedelta(0), data.now - data.last_import_at)
    if lag is None or lag >= t.import_lag_critical:
        alarms.append(
            Alarm(
                "import_lag",
                Severity.CRITICAL,
                f"{data.account}: no order import completed "
                + ("yet." if lag is None else f"for {int(lag.total_seconds() // 60)} minutes."),
            )
        )
    elif lag >= t.import_lag_warning:
        alarms.append(
            Alarm(
                "import_lag",
                Severity.WARNING,
                f"{data.account}: the last order import completed "
                f"{int(lag.total_seconds() // 60)} minutes ago.",
            )
        )
    error_rate = data.errors / data.calls if data.calls else 0.0
    throttle_rate = data.throttled / data.calls if data.calls else 0.0
    if data.calls >= t.min_calls and error_rate >= t.error_rate_warning:
        alarms.append(
            Alarm(
                "error_rate",
                Severity.WARNING,
                f"{data.account}: {error_rate:.0%} of SP-API calls failed.",
            )
        )
    if data.calls >= t.min_calls and throttle_rate >= t.throttle_rate_warning:
        alarms.append(
            Alarm(
                "throttling",
                Severity.WARNING,
                f"{data.account}: {throttle_rate:.0%} of SP-API calls were throttled (429).",
            )
        )
    if data.feed_errors:
        alarms.append(
            Alarm(
                "feed_errors",
                Severity.WARNING,
                f"{data.account}: Amazon refused the quantity of {data.feed_errors} SKU(s); "
                "see the processing report issues.",
            )
        )
    if any(a.severity is Severity.CRITICAL for a in alarms):
        status = HealthStatus.FAILING
    elif alarms:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.OK
    return ChannelHealth(data.account, status, tuple(alarms), lag, error_rate, throttle_rate)
