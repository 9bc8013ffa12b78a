"""The persistent print queue: printing never blocks a sale.

``enqueue`` writes one SQLite row and returns at once; a worker thread prints
jobs in order. Before each job it reads the printer's real-time status; while
the printer is offline, out of paper or open, the job stays queued and is
retried with exponential backoff, and the queue keeps polling the printer so
jobs go out as soon as it is ready again. Jobs survive an agent restart.

Every job has a caller-chosen ``job_id``: enqueueing the same id twice (a
retry after a timeout, a double click) returns the existing job and prints
nothing more. Drawer jobs jump the queue and need only a reachable printer,
so the cash drawer opens even when the paper has run out.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import peewee

from edge_agent.devices.errors import DeviceError, PrintJobError
from edge_agent.devices.printers import Printer
from edge_agent.devices.queue_models import PrintJob, database_proxy
from edge_agent.devices.render import drawer_pulse_realtime
from edge_agent.devices.status import PrinterStatus
from edge_agent.domain.receipt import (
    Align,
    DrawerKick,
    Feed,
    PrintCommand,
    ReceiptError,
    Text,
    commands_from_json,
    commands_to_json,
    labels_for,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_OFFLINE_ALARM_S: Final = 120.0
DEFAULT_STATUS_POLL_S: Final = 5.0
DRAWER_KIND: Final = "drawer"


class JobState(StrEnum):
    """Where a job is in its life."""

    PENDING = "pending"
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff between attempts while the printer is not ready."""

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0

    def delay_s(self, attempts: int) -> float:
        """Return the wait before attempt number ``attempts + 1``."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempts - 1))


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A snapshot of one print job for callers and the UI."""

    job_id: str
    kind: str
    state: JobState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    printed_at: datetime | None
    last_error: str

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used by the API."""
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "state": self.state.value,
            "attempts": self.attempts,
            "created_at": _iso(self.created_at),
            "next_attempt_at": _iso(self.next_attempt_at),
            "printed_at": _iso(self.printed_at) if self.printed_at else None,
            "last_error": self.last_error,
        }


@dataclass(frozen=True, slots=True)
class DeviceAlarm:
    """A device that has been unusable for too long (or is fine again after an alarm)."""

    device: str
    kind: str
    state: str
    detail: str
    since: datetime

    def to_event_body(self) -> dict[str, Any]:
        """Return the body of a ``device.status`` outbox event."""
        return {
            "device": self.device,
            "kind": self.kind,
            "state": self.state,
            "detail": self.detail,
            "since": _iso(self.since),
        }


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """Printer state and queue depth, for the UI and the birth message."""

    printer_kind: str
    printer: PrinterStatus
    since: datetime
    pending: int
    failed: int
    alarm: bool
    checked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form used by the status API and the birth message."""
        out = {"kind": self.printer_kind, **self.printer.as_dict()}
        out.update(
            since=_iso(self.since),
            pending_jobs=self.pending,
            failed_jobs=self.failed,
            alarm=self.alarm,
            checked_at=_iso(self.checked_at) if self.checked_at else None,
        )
        return out


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _write_transaction() -> Any:
    """Open a transaction that takes SQLite's write lock at BEGIN.

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another writer got there first (the busy timeout
    does not apply to that upgrade); BEGIN IMMEDIATE waits its turn instead.
    """
    if isinstance(database_proxy.obj, peewee.SqliteDatabase):
        return database_proxy.atomic(lock_type="IMMEDIATE")
    return database_proxy.atomic()


def _info(row: PrintJob) -> JobInfo:
    return JobInfo(
        job_id=row.job_id,
        kind=row.kind,
        state=JobState(row.state),
        attempts=row.attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        printed_at=row.printed_at,
        last_error=row.last_error,
    )


AlarmObserver = Callable[[DeviceAlarm], None]
StatusObserver = Callable[[QueueStatus], None]
Renderer = Callable[[Sequence[PrintCommand]], bytes]


class PrintQueue:
    """Persistent, ordered, retrying print queue with one worker thread."""

    def __init__(
        self,
        printer: Printer,
        render: Renderer,
        *,
        retry: RetryPolicy | None = None,
        offline_alarm_s: float = DEFAULT_OFFLINE_ALARM_S,
        status_poll_s: float = DEFAULT_STATUS_POLL_S,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.printer = printer
        self._render = render
        self.retry = retry or RetryPolicy()
        self.offline_alarm_s = offline_alarm_s
        self.status_poll_s = status_poll_s
        self._now = now or (lambda: datetime.now(UTC))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._alarm_observers: list[AlarmObserver] = []
        self._status_observers: list[StatusObserver] = []
        started = self._now()
        self._printer_status = PrinterStatus(online=False, detail="not checked yet")
        self._status_since = started
        self._checked_at: datetime | None = None
        self._not_ready_since: datetime | None = None
        self._alarm_raised = False
        self._last_poll_mono = 0.0

    # ------------------------------------------------------------------ observers

    def add_alarm_observer(self, observer: AlarmObserver) -> None:
        """Call ``observer`` when the printer has been unusable longer than the alarm time."""
        self._alarm_observers.append(observer)

    def add_status_observer(self, observer: StatusObserver) -> None:
        """Call ``observer`` whenever the printer's state word changes."""
        self._status_observers.append(observer)

    # ------------------------------------------------------------------ API

    def enqueue(
        self,
        job_id: str,
        kind: str,
        *,
        commands: Sequence[PrintCommand] | None = None,
        raw: bytes | None = None,
        language: str = "en",
    ) -> tuple[JobInfo, bool]:
        """Queue a job unless ``job_id`` is known; return (job, created); never waits."""
        if not job_id or len(job_id) > 200:
            raise PrintJobError("a print job id must have 1 to 200 characters")
        if commands is not None and raw is None:
            payload_format, payload = "commands", commands_to_json(commands).encode("utf-8")
        elif raw is not None and commands is None:
            payload_format, payload = "raw", raw
        else:
            raise PrintJobError("a print job needs either commands or raw bytes")
        now = self._now()
        created = False
        with _write_transaction():
            row = PrintJob.get_or_none(PrintJob.job_id == job_id)
            if row is None:
                try:
                    with database_proxy.atomic():
                        row = PrintJob.create(
                            job_id=job_id,
                            kind=kind,
                            payload_format=payload_format,
                            payload=payload,
                            state=JobState.PENDING.value,
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                            meta=json.dumps({"language": language}),
                        )
                    created = True
                except peewee.IntegrityError:
                    # Another thread queued the same id between our read and insert.
                    row = PrintJob.get(PrintJob.job_id == job_id)
        if created:
            _LOGGER.info("queued %s job %s", kind, job_id)
            self._wake.set()
        else:
            _LOGGER.debug("job %s already queued (state %s); not queued again", job_id, row.state)
        return _info(row), created

    def job(self, job_id: str) -> JobInfo | None:
        """Return one job, or None."""
        row = PrintJob.get_or_none(PrintJob.job_id == job_id)
        return _info(row) if row else None

    def jobs(self, *, limit: int = 50, states: Sequence[JobState] | None = None) -> list[JobInfo]:
        """Return recent jobs, newest first."""
        query = PrintJob.select().order_by(PrintJob.id.desc()).limit(limit)
        if states:
            query = query.where(PrintJob.state.in_([s.value for s in states]))
        return [_info(r) for r in query]

    def reprint(self, job_id: str, *, request_id: str | None = None) -> JobInfo:
        """Print a job again: retry now if it is still queued, else queue a marked copy.

        ``request_id`` (an idempotency key from the UI) makes a repeated request
        return the same copy instead of printing another one.
        """
        row = PrintJob.get_or_none(PrintJob.job_id == job_id)
        if row is None:
            raise PrintJobError(f"no print job {job_id!r}")
        if row.kind == DRAWER_KIND:
            raise PrintJobError("a drawer opening cannot be reprinted")
        if row.state in (JobState.PENDING.value, JobState.FAILED.value, JobState.PRINTING.value):
            PrintJob.update(
                state=JobState.PENDING.value, next_attempt_at=self._now(), last_error=""
            ).where((PrintJob.id == row.id) & (PrintJob.state != JobState.PRINTING.value)).execute()
            self._wake.set()
            return _info(PrintJob.get_by_id(row.id))
        if request_id:
            copy_id = f"{job_id}~copy~{request_id}"
        else:
            copies = PrintJob.select().where(PrintJob.job_id.startswith(f"{job_id}~copy~")).count()
            copy_id = f"{job_id}~copy~{copies + 1}"
        language = json.loads(row.meta or "{}").get("language", "en")
        marker = f"*** {labels_for(language)['copy']} ***"
        if row.payload_format == "commands":
            commands = [
                Text(marker, Align.CENTER, bold=True),
                Feed(1),
                *commands_from_json(bytes(row.payload)),
            ]
            info, _ = self.enqueue(copy_id, row.kind, commands=commands, language=language)
        else:
            info, _ = self.enqueue(copy_id, row.kind, raw=bytes(row.payload), language=language)
        return info

    def status(self) -> QueueStatus:
        """Return the printer's last known state and the queue depth."""
        pending = (
            PrintJob.select()
            .where(PrintJob.state.in_([JobState.PENDING.value, JobState.PRINTING.value]))
            .count()
        )
        failed = PrintJob.select().where(PrintJob.state == JobState.FAILED.value).count()
        with self._lock:
            return QueueStatus(
                printer_kind=self.printer.kind,
                printer=self._printer_status,
                since=self._status_since,
                pending=pending,
                failed=failed,
                alarm=self._alarm_raised,
                checked_at=self._checked_at,
            )

    def wake(self) -> None:
        """Make the worker look at the queue and the printer now."""
        self._wake.set()

    # ------------------------------------------------------------------ worker

    def start(self) -> None:
        """Recover jobs interrupted by a crash and start the worker thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        recovered = (
            PrintJob.update(state=JobState.PENDING.value)
            .where(PrintJob.state == JobState.PRINTING.value)
            .execute()
        )
        if recovered:
            _LOGGER.warning(
                "%d print job(s) were interrupted while sending; they will print again",
                recovered,
            )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="print-queue", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker; queued jobs stay in the database."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                _LOGGER.warning("print queue worker did not stop within %.1f s", timeout_s)
            self._thread = None

    def _run(self) -> None:
        _LOGGER.info("print queue started (%s %s)", self.printer.kind, self.printer.describe())
        try:
            while not self._stop.is_set():
                try:
                    busy = self._tick()
                except peewee.PeeweeException as err:
                    _LOGGER.error("print queue database error: %s", err)
                    busy = False
                except Exception:  # noqa: BLE001 - the queue must outlive a bug in one step
                    _LOGGER.exception("print queue step failed; trying again")
                    self._stop.wait(1.0)
                    continue
                if busy:
                    continue
                self._wake.wait(self._sleep_s())
                self._wake.clear()
        finally:
            if not database_proxy.is_closed():
                database_proxy.close()
            _LOGGER.info("print queue stopped")

    def _sleep_s(self) -> float:
        waits = [self.status_poll_s - (time.monotonic() - self._last_poll_mono)]
        head = self._next_job()
        if head is not None:
            waits.append((head.next_attempt_at - self._now()).total_seconds())
        with self._lock:
            if self._not_ready_since is not None and not self._alarm_raised:
                elapsed = (self._now() - self._not_ready_since).total_seconds()
                waits.append(self.offline_alarm_s - elapsed)
        return max(0.01, min(waits))

    def _next_job(self) -> PrintJob | None:
        """Return the next job to try: drawer kicks first, else the oldest print job."""
        pending = PrintJob.state == JobState.PENDING.value
        drawer: PrintJob | None = (
            PrintJob.select()
            .where(pending & (PrintJob.kind == DRAWER_KIND))
            .order_by(PrintJob.next_attempt_at, PrintJob.id)
            .first()
        )
        if drawer is not None and drawer.next_attempt_at <= self._now():
            return drawer
        head: PrintJob | None = (
            PrintJob.select()
            .where(pending & (PrintJob.kind != DRAWER_KIND))
            .order_by(PrintJob.id)
            .first()
        )
        if drawer is not None and (head is None or drawer.next_attempt_at < head.next_attempt_at):
            return drawer
        return head

    def _poll_status(self) -> PrinterStatus:
        try:
            st = self.printer.status()
        except DeviceError as err:
            st = PrinterStatus(online=False, detail=str(err))
        self._last_poll_mono = time.monotonic()
        self._observe(st)
        return st

    def _tick(self) -> bool:
        """Do one step; return True when a job was finished (look again right away)."""
        now = self._now()
        job = self._next_job()
        poll_due = time.monotonic() - self._last_poll_mono >= self.status_poll_s
        if job is None or job.next_attempt_at > now:
            if poll_due:
                was_ready = self._printer_status.ready
                st = self._poll_status()
                if st.ready and not was_ready and job is not None:
                    # The printer came back: do not wait out the backoff.
                    PrintJob.update(next_attempt_at=now).where(
                        PrintJob.state == JobState.PENDING.value
                    ).execute()
                    return True
            self._check_alarm()
            return False
        st = self._poll_status()
        usable = st.online if job.kind == DRAWER_KIND else st.ready
        if not usable:
            self._defer(job, f"printer {st.state}: {st.detail}".rstrip(": "))
            self._check_alarm()
            return False
        try:
            data = self._payload_bytes(job, printer_ready=st.ready)
        except (PrintJobError, ReceiptError) as err:
            self._fail(job, str(err))
            return True
        PrintJob.update(state=JobState.PRINTING.value).where(PrintJob.id == job.id).execute()
        try:
            self.printer.send(job.job_id, data)
        except DeviceError as err:
            PrintJob.update(state=JobState.PENDING.value).where(PrintJob.id == job.id).execute()
            self._defer(job, str(err))
            self._observe(PrinterStatus(online=False, detail=str(err)))
            self._check_alarm()
            return False
        PrintJob.update(
            state=JobState.PRINTED.value,
            printed_at=self._now(),
            attempts=job.attempts + 1,
            last_error="",
        ).where(PrintJob.id == job.id).execute()
        _LOGGER.info("printed %s job %s (%d bytes)", job.kind, job.job_id, len(data))
        return True

    def _payload_bytes(self, job: PrintJob, *, printer_ready: bool) -> bytes:
        if job.payload_format == "raw":
            return bytes(job.payload)
        if job.payload_format != "commands":
            raise PrintJobError(f"unknown payload format {job.payload_format!r}")
        commands = commands_from_json(bytes(job.payload))
        if job.kind == DRAWER_KIND and not printer_ready:
            # A printer out of paper or with its cover open holds buffered commands
            # (ESC p) until it recovers; the real-time pulse opens the drawer now.
            pins = [c.pin for c in commands if isinstance(c, DrawerKick)]
            return b"".join(drawer_pulse_realtime(pin) for pin in pins[:1])
        return self._render(commands)

    def _defer(self, job: PrintJob, reason: str) -> None:
        attempts = job.attempts + 1
        delay = self.retry.delay_s(attempts)
        PrintJob.update(
            attempts=attempts,
            next_attempt_at=self._now() + timedelta(seconds=delay),
            last_error=reason[:500],
        ).where(PrintJob.id == job.id).execute()
        _LOGGER.info("job %s waits %.1f s: %s", job.job_id, delay, reason)

    def _fail(self, job: PrintJob, reason: str) -> None:
        PrintJob.update(
            state=JobState.FAILED.value, attempts=job.attempts + 1, last_error=reason[:500]
        ).where(PrintJob.id == job.id).execute()
        _LOGGER.error("job %s cannot be printed and was set aside: %s", job.job_id, reason)

    # ------------------------------------------------------------------ state and alarms

    def _observe(self, st: PrinterStatus) -> None:
        now = self._now()
        changed = False
        recovered: DeviceAlarm | None = None
        with self._lock:
            previous = self._printer_status
            first = self._checked_at is None
            self._checked_at = now
            if first or st.state != previous.state or st.paper is not previous.paper:
                self._status_since = now
                changed = True
            self._printer_status = st
            if st.ready:
                if self._alarm_raised:
                    recovered = DeviceAlarm(
                        "printer", self.printer.kind, st.state, st.detail or "back to normal", now
                    )
                self._not_ready_since = None
                self._alarm_raised = False
            elif self._not_ready_since is None:
                self._not_ready_since = now
        if recovered is not None:
            self._notify_alarm(recovered)
        if changed:
            _LOGGER.info("printer %s is %s %s", self.printer.describe(), st.state, st.detail)
            snapshot = self.status()
            for observer in list(self._status_observers):
                try:
                    observer(snapshot)
                except Exception:  # noqa: BLE001 - one observer must not stop printing
                    _LOGGER.exception("printer status observer failed")

    def _check_alarm(self) -> None:
        with self._lock:
            since = self._not_ready_since
            if since is None or self._alarm_raised:
                return
            if (self._now() - since).total_seconds() < self.offline_alarm_s:
                return
            self._alarm_raised = True
            st = self._printer_status
            alarm = DeviceAlarm("printer", self.printer.kind, st.state, st.detail, since)
        _LOGGER.warning(
            "printer %s has been %s since %s", self.printer.describe(), st.state, _iso(since)
        )
        self._notify_alarm(alarm)

    def _notify_alarm(self, alarm: DeviceAlarm) -> None:
        for observer in list(self._alarm_observers):
            try:
                observer(alarm)
            except Exception:  # noqa: BLE001 - one observer must not stop printing
                _LOGGER.exception("printer alarm observer failed")
