"""The scheduled settlement import: list Amazon settlement reports, fetch, import, once per hub.

Every hub process started by ``acorn hub serve`` with ingest runs a SettlementWorker
next to the channel worker; the ``settlements`` lease (hub/db/leases.py) lets exactly
one of them run. Every ``interval_s`` (the hub setting ``settlement_poll_s``, default 600 s)
the holder, for each enabled Amazon account:

1. lists settlement reports with getReports (``reportTypes=GET_V2_SETTLEMENT_REPORT_
   DATA_FLAT_FILE_V2``, ``createdSince`` = the account's checkpoint, paged with
   ``nextToken``); Amazon ignores the marketplace filter, so every marketplace's
   settlements of the account come back at once;
2. skips reports whose document is already stored, fetches the others
   (getReportDocument plus the download, through the account's SpApiClient with its
   token cache and rate limiter) and imports each (hub.finance.importer);
3. moves the checkpoint to the newest report seen less an overlap (reports that failed
   keep it before them, so they are tried again), links lines of orders imported since,
   and raises or clears a ``settlement_import`` alarm for the account.

One report's failure never stops the others; one account's never stops the other accounts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub import alarms
from hub.channels.amazon.account import CredentialCipher
from hub.channels.amazon.client import SpApiClient
from hub.channels.amazon.errors import AmazonChannelError, ConfigError
from hub.db import channels as repo
from hub.db.models_channels import ChannelAccount
from hub.db.models_finance import Settlement, SettlementImportState
from hub.finance.importer import (
    SOURCE_REPORTS_API,
    ImportOutcome,
    SettlementImportError,
    document_sha256,
    import_settlement,
    link_pending_lines,
)
from hub.finance.settlement import REPORT_TYPE, SettlementParseError, parse_settlement
from hub.leased_loop import LeasedLoop

_LOGGER = logging.getLogger(__name__)

SETTLEMENT_LEASE = "settlements"
ALARM_IMPORT = "settlement_import"
DEFAULT_INTERVAL_S = 600.0

ClientFactory = Callable[..., SpApiClient]


@dataclass(frozen=True, slots=True)
class SettlementSchedulePolicy:
    """Intervals and windows of the scheduled import."""

    interval_s: float = DEFAULT_INTERVAL_S
    tick_s: float = 1.0
    lease_ttl_s: float = 120.0
    first_lookback: timedelta = timedelta(days=90)
    """Where an account's first run starts: Amazon keeps reports for 90 days."""
    overlap: timedelta = timedelta(hours=1)
    """The checkpoint stays this far behind the newest report (late-listed reports)."""
    page_size: int = 100
    max_pages: int = 50


@dataclass
class AccountRun:
    """What one scheduled run did for one account."""

    account: str
    reports_seen: int = 0
    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    skipped: int = 0
    """Reports whose document was stored before (not downloaded again)."""
    elsewhere: int = 0
    """Reports of marketplaces the account does not sell in (another account's)."""
    mismatched: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(report id, reason) of reports that could not be fetched or imported."""
    relinked_lines: int = 0
    error: str = ""
    """Listing failed: nothing was imported for the account this run."""

    @property
    def ok(self) -> bool:
        """True when every report was listed and imported (or stored before)."""
        return not self.error and not self.failed


def fetch_settlements(
    sessions: sessionmaker[Session],
    client: SpApiClient,
    *,
    account_id: int,
    account_name: str,
    now: datetime,
    policy: SettlementSchedulePolicy | None = None,
) -> AccountRun:
    """One run for one account: list new settlement reports, fetch and import each.

    Amazon lists every settlement of the selling partner whatever marketplace is asked
    for; a report (or, once downloaded, a file) of a marketplace the account does not
    sell in belongs to another account of the same seller and is left to it.
    """
    policy = policy or SettlementSchedulePolicy()
    run = AccountRun(account_name)
    mine = set(client.account.marketplace_ids)
    with sessions() as session:
        state = session.get(SettlementImportState, account_id)
        since = state.checkpoint if state is not None and state.checkpoint else None
    since = since or now - policy.first_lookback
    try:
        reports = _list_reports(client, since, policy)
    except AmazonChannelError as err:
        run.error = f"getReports failed: {err}"
        _LOGGER.warning("settlements of %s: %s", account_name, run.error)
        _record(sessions, account_id, run, None, now)
        return run
    run.reports_seen = len(reports)
    with sessions() as session:
        stored = set(
            session.scalars(
                select(Settlement.source_name).where(
                    Settlement.source == SOURCE_REPORTS_API,
                    Settlement.source_name.in_(
                        [r["reportDocumentId"] for r in reports if r.get("reportDocumentId")]
                    ),
                )
            )
        )
    newest: datetime | None = None
    oldest_failed: datetime | None = None
    for report in sorted(reports, key=lambda r: (r.get("createdTime", ""), r.get("reportId"))):
        created = _created(report)
        report_id = str(report.get("reportId", "?"))
        status = report.get("processingStatus")
        document_id = report.get("reportDocumentId")
        if status in ("IN_QUEUE", "IN_PROGRESS") or (status == "DONE" and not document_id):
            # Not ready yet: keep the checkpoint before it.
            oldest_failed = min(oldest_failed or created, created)
            continue
        newest = max(newest or created, created)
        if status != "DONE":
            continue  # FATAL/CANCELLED settlement reports hold nothing to import
        listed_for = set(report.get("marketplaceIds") or ())
        if listed_for and mine and not listed_for & mine:
            run.elsewhere += 1
            continue
        if document_id in stored:
            run.skipped += 1
            continue
        try:
            content, charset = client.get_report_content(str(document_id))
            parsed = parse_settlement(content, charset=charset)
            if parsed.marketplace_id and mine and parsed.marketplace_id not in mine:
                run.elsewhere += 1
                continue
            with sessions.begin() as session:
                result = import_settlement(
                    session,
                    parsed,
                    sha256=document_sha256(content),
                    source=SOURCE_REPORTS_API,
                    source_name=str(document_id),
                    account_id=account_id,
                    now=now,
                )
        except (AmazonChannelError, SettlementParseError, SettlementImportError) as err:
            reason = f"report {report_id} ({document_id}): {err}"
            run.failed.append((report_id, reason))
            oldest_failed = min(oldest_failed or created, created)
            _LOGGER.warning("settlement import of %s failed: %s", account_name, reason)
            continue
        if result.outcome is ImportOutcome.IMPORTED:
            run.imported.append(result.settlement_id)
        else:
            run.already.append(result.settlement_id)
        if result.mismatch_minor:
            run.mismatched.append(result.settlement_id)
    checkpoint = since
    if newest is not None:
        checkpoint = max(since, newest - policy.overlap)
    if oldest_failed is not None:
        checkpoint = min(checkpoint, oldest_failed - timedelta(seconds=1))
    with sessions.begin() as session:
        run.relinked_lines = link_pending_lines(session)
    _record(sessions, account_id, run, checkpoint, now)
    if run.imported or run.failed:
        _LOGGER.info(
            "settlements of %s: %s listed, %s imported, %s already there, %s failed",
            account_name,
            run.reports_seen,
            len(run.imported),
            len(run.already) + run.skipped,
            len(run.failed),
        )
    return run


def _created(report: dict[str, Any]) -> datetime:
    raw = str(report.get("createdTime") or "")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return datetime.now(UTC)


def _list_reports(
    client: SpApiClient, since: datetime, policy: SettlementSchedulePolicy
) -> list[dict[str, Any]]:
    reports: list[dict[str, Any]] = []
    token: str | None = None
    for _page in range(policy.max_pages):
        body = client.get_reports(
            [REPORT_TYPE], created_since=since, page_size=policy.page_size, next_token=token
        )
        reports.extend(r for r in body.get("reports") or [] if r.get("reportType") == REPORT_TYPE)
        token = body.get("nextToken")
        if not token:
            break
    return reports


def _record(
    sessions: sessionmaker[Session],
    account_id: int,
    run: AccountRun,
    checkpoint: datetime | None,
    now: datetime,
) -> None:
    with sessions.begin() as session:
        state = session.get(SettlementImportState, account_id)
        if state is None:
            state = SettlementImportState(
                account_id=account_id, reports_seen=0, settlements_imported=0, last_error=""
            )
            session.add(state)
        if checkpoint is not None:
            state.checkpoint = checkpoint
        state.last_run_at = now
        state.reports_seen = (state.reports_seen or 0) + run.reports_seen
        state.settlements_imported = (state.settlements_imported or 0) + len(run.imported)
        problem = run.error or "; ".join(reason for _rid, reason in run.failed)
        state.last_error = problem[:2000]
        if run.ok:
            state.last_success_at = now
            alarms.clear_alarm(session, kind=ALARM_IMPORT, key=run.account, now=now)
        else:
            alarms.raise_alarm(
                session,
                kind=ALARM_IMPORT,
                key=run.account,
                message=f"settlement import of {run.account}: {problem[:500]}",
                severity="warning",
                now=now,
            )


class SettlementWorker:
    """Runs the scheduled settlement import of every enabled account under a lease."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: CredentialCipher | None,
        *,
        worker_id: str,
        policy: SettlementSchedulePolicy | None = None,
        client_factory: ClientFactory = SpApiClient,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.worker_id = worker_id
        self.policy = policy or SettlementSchedulePolicy()
        self.client_factory = client_factory
        self.clock = clock
        self.runs = 0
        self._clients: dict[int, tuple[datetime, SpApiClient]] = {}
        self._next_run = 0.0
        self._lease = LeasedLoop(
            sessions,
            lease=SETTLEMENT_LEASE,
            holder=worker_id,
            ttl_s=self.policy.lease_ttl_s,
            tick_s=self.policy.tick_s,
            clock=clock,
            work=self.tick,
            thread_name="hub-settlements",
        )

    @property
    def is_leader(self) -> bool:
        """True while this worker holds the settlements lease."""
        return self._lease.is_leader

    def start(self) -> None:
        """Start the worker thread."""
        self._lease.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread, give the lease up and close the clients."""
        self._lease.stop(timeout)
        for _version, client in self._clients.values():
            client.close()
        self._clients.clear()

    def tick(self) -> list[AccountRun]:
        """Take or renew the lease; when held and due, run every account once."""
        was_leader = self.is_leader
        leader = self._lease.hold()
        if leader and not was_leader:
            self._next_run = 0.0  # a new holder runs at once
        if not leader or time.monotonic() < self._next_run:
            return []
        self._next_run = time.monotonic() + self.policy.interval_s
        return self.run_once()

    def run_once(self) -> list[AccountRun]:
        """Import the new settlements of every enabled Amazon account (no lease check)."""
        with self.sessions() as session:
            rows = [r for r in repo.list_accounts(session, enabled_only=True) if r.kind == "amazon"]
        live = {row.id for row in rows}
        for gone in set(self._clients) - live:
            self._clients.pop(gone)[1].close()
        if rows and self.cipher is None:
            _LOGGER.warning("channel accounts exist but no secrets key: settlements not fetched")
            return []
        runs = []
        for row in rows:
            if self._lease.stopping:
                break
            try:
                client = self._client(row)
                runs.append(
                    fetch_settlements(
                        self.sessions,
                        client,
                        account_id=row.id,
                        account_name=row.name,
                        now=self.clock(),
                        policy=self.policy,
                    )
                )
            except ConfigError as err:
                _LOGGER.error("channel account %s cannot be used: %s", row.name, err)
            except Exception:
                _LOGGER.exception("settlement import of %s failed", row.name)
        self.runs += 1
        return runs

    def _client(self, row: ChannelAccount) -> SpApiClient:
        known = self._clients.get(row.id)
        if known is not None and known[0] == row.updated_at:
            return known[1]
        if known is not None:
            known[1].close()
        assert self.cipher is not None
        client = self.client_factory(repo.seller_account(row, self.cipher))
        self._clients[row.id] = (row.updated_at, client)
        return client


def attach(ingest_worker: Any, settings: Any, engine: Any) -> SettlementWorker:
    """Run a SettlementWorker alongside an ingest worker: started and stopped with it."""
    from hub.channels.worker import credential_cipher
    from hub.db.engine import make_sessionmaker

    policy = SettlementSchedulePolicy(
        interval_s=getattr(settings, "settlement_poll_s", DEFAULT_INTERVAL_S)
    )
    worker = SettlementWorker(
        make_sessionmaker(engine),
        credential_cipher(settings),
        worker_id=settings.worker_id,
        policy=policy,
    )
    start, stop = ingest_worker.start, ingest_worker.stop

    def _start() -> None:
        start()
        worker.start()

    def _stop(timeout: float = 10.0) -> None:
        worker.stop()
        stop(timeout)

    ingest_worker.start, ingest_worker.stop = _start, _stop
    ingest_worker.settlements = worker
    return worker
