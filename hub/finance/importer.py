"""Store parsed settlements in the hub database, idempotently, linked to marketplace orders.

- The same settlement (channel, settlement-id) imported again is "already imported":
  nothing is written twice. A re-download with other bytes but the same content (another
  charset, line endings) counts as the same; a document whose content differs from the
  stored one is refused with :class:`SettlementConflictError` (Amazon does not change a
  closed settlement: a different file under the same id is a mistake to look at).
- Each line with an Amazon order id is linked to ``marketplace_orders`` (by the account's
  orders when the settlement has an account, else by the order id alone when exactly one
  order has it). Lines whose order is imported later are linked by :func:`link_pending_lines`,
  which every import and every scheduled run calls.
- Rows that do not add up to ``total-amount`` are stored as they are and raise a
  ``settlement_mismatch`` alarm (hub.alarms), keyed by the settlement id.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import alarms
from hub.db.models_channels import MarketplaceOrder
from hub.db.models_finance import Settlement, SettlementLine
from hub.db.util import chunks, table_of
from hub.finance.settlement import ParsedLine, ParsedSettlement, parse_settlement

_LOGGER = logging.getLogger(__name__)

CHANNEL = "amazon"
ALARM_MISMATCH = "settlement_mismatch"
SOURCE_FILE = "file"
SOURCE_REPORTS_API = "reports_api"
_LINK_CHUNK = 500


class ImportOutcome(enum.StrEnum):
    """What an import did."""

    IMPORTED = "imported"
    ALREADY_IMPORTED = "already_imported"


class SettlementImportError(Exception):
    """A settlement that cannot be stored."""


class SettlementConflictError(SettlementImportError):
    """A different document under a settlement id that is already imported."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The outcome of one import, for the CLI summary, the schedule and the logs."""

    outcome: ImportOutcome
    settlement_pk: int
    settlement_id: str
    currency: str
    marketplace_id: str | None
    total_minor: int
    lines_total_minor: int
    line_count: int
    kind_counts: Mapping[str, int] = field(default_factory=dict)
    linked_orders: int = 0
    """Distinct orders of the settlement linked to our marketplace orders (after this import)."""
    unlinked_orders: int = 0
    """Distinct order ids of the settlement with no marketplace order (yet)."""
    relinked_lines: int = 0
    """Lines of earlier settlements linked by this run because their order arrived since."""

    @property
    def mismatch_minor(self) -> int:
        """``total-amount`` minus the rows' sum."""
        return self.total_minor - self.lines_total_minor


def document_sha256(data: bytes) -> str:
    """The SHA-256 of a document's bytes (stored with the settlement)."""
    return hashlib.sha256(data).hexdigest()


def import_document(
    session: Session,
    data: bytes,
    *,
    source: str,
    source_name: str,
    account_id: int | None,
    now: datetime,
    charset: str | None = None,
) -> ImportResult:
    """Parse a settlement document and store it (see :func:`import_settlement`)."""
    parsed = parse_settlement(data, charset=charset)
    return import_settlement(
        session,
        parsed,
        sha256=document_sha256(data),
        source=source,
        source_name=source_name,
        account_id=account_id,
        now=now,
    )


def import_settlement(
    session: Session,
    parsed: ParsedSettlement,
    *,
    sha256: str,
    source: str,
    source_name: str,
    account_id: int | None,
    now: datetime,
) -> ImportResult:
    """Store a parsed settlement once; link its lines; alarm when its rows do not add up.

    Runs inside the caller's transaction. Raises SettlementConflictError when another
    document is stored under the same settlement id.
    """
    existing = _find(session, parsed.settlement_id)
    if existing is not None:
        return _already(session, existing, parsed, sha256, account_id, now)
    try:
        with session.begin_nested():
            settlement = _insert(
                session, parsed, sha256, source, source_name[:255], account_id, now
            )
    except IntegrityError:
        # Someone stored the same settlement between our look-up and our insert.
        existing = _find(session, parsed.settlement_id)
        if existing is None:
            raise
        return _already(session, existing, parsed, sha256, account_id, now)
    relinked = link_pending_lines(session)
    linked, unlinked = _link_counts(session, settlement.id)
    if not parsed.balanced:
        _alarm_mismatch(session, parsed, now)
    _LOGGER.info(
        "settlement %s imported: %s lines, total %s %s, %s orders linked, %s not (yet)",
        parsed.settlement_id,
        len(parsed.lines),
        parsed.format_minor(parsed.total_minor),
        parsed.currency,
        linked,
        unlinked,
    )
    return ImportResult(
        outcome=ImportOutcome.IMPORTED,
        settlement_pk=settlement.id,
        settlement_id=parsed.settlement_id,
        currency=parsed.currency,
        marketplace_id=parsed.marketplace_id,
        total_minor=parsed.total_minor,
        lines_total_minor=parsed.lines_total_minor,
        line_count=len(parsed.lines),
        kind_counts=dict(parsed.kind_counts),
        linked_orders=linked,
        unlinked_orders=unlinked,
        relinked_lines=relinked,
    )


def _find(session: Session, settlement_id: str) -> Settlement | None:
    return session.scalars(
        select(Settlement).where(
            Settlement.channel == CHANNEL, Settlement.settlement_id == settlement_id
        )
    ).first()


def _insert(
    session: Session,
    parsed: ParsedSettlement,
    sha256: str,
    source: str,
    source_name: str,
    account_id: int | None,
    now: datetime,
) -> Settlement:
    settlement = Settlement(
        channel=CHANNEL,
        account_id=account_id,
        settlement_id=parsed.settlement_id,
        marketplace_id=parsed.marketplace_id,
        marketplace_name=parsed.marketplace_name,
        currency=parsed.currency,
        start_at=parsed.start_at,
        end_at=parsed.end_at,
        deposit_at=parsed.deposit_at,
        total_minor=parsed.total_minor,
        lines_total_minor=parsed.lines_total_minor,
        line_count=len(parsed.lines),
        source=source,
        source_name=source_name,
        document_sha256=sha256,
        imported_at=now,
    )
    session.add(settlement)
    session.flush()
    links = _order_links(session, (ln.order_id for ln in parsed.lines), account_id)
    rows = [_line_row(settlement.id, line, links) for line in parsed.lines]
    for batch in chunks(rows, 1000):
        session.execute(table_of(SettlementLine).insert(), list(batch))
    return settlement


def _line_row(settlement_pk: int, line: ParsedLine, links: Mapping[str, int]) -> dict[str, object]:
    return {
        "settlement_pk": settlement_pk,
        "row_no": line.row_no,
        "transaction_type": line.transaction_type,
        "kind": line.kind.value,
        "component": line.component.value,
        "amount_type": line.amount_type,
        "amount_description": line.amount_description,
        "amount_minor": line.amount_minor,
        "order_id": line.order_id,
        "merchant_order_id": line.merchant_order_id,
        "adjustment_id": line.adjustment_id,
        "shipment_id": line.shipment_id,
        "order_item_code": line.order_item_code,
        "sku": line.sku,
        "quantity": line.quantity,
        "posted_at": line.posted_at,
        "promotion_id": line.promotion_id,
        "marketplace_order_pk": links.get(line.order_id) if line.order_id else None,
    }


def _order_links(
    session: Session, order_ids: Iterable[str | None], account_id: int | None
) -> dict[str, int]:
    """Marketplace order pk per Amazon order id, for the ids that have exactly one order."""
    wanted = sorted({oid for oid in order_ids if oid})
    found: dict[str, list[int]] = {}
    for batch in chunks(wanted, _LINK_CHUNK):
        stmt = select(MarketplaceOrder.marketplace_order_id, MarketplaceOrder.id).where(
            MarketplaceOrder.marketplace_order_id.in_(batch)
        )
        if account_id is not None:
            stmt = stmt.where(MarketplaceOrder.account_id == account_id)
        for order_id, pk in session.execute(stmt):
            found.setdefault(order_id, []).append(pk)
    return {oid: pks[0] for oid, pks in found.items() if len(pks) == 1}


def link_pending_lines(session: Session) -> int:
    """Link settlement lines whose order was imported after them; returns lines linked."""
    pending = session.execute(
        select(SettlementLine.order_id, Settlement.account_id)
        .join(Settlement, Settlement.id == SettlementLine.settlement_pk)
        .where(SettlementLine.marketplace_order_pk.is_(None), SettlementLine.order_id.is_not(None))
        .distinct()
    ).all()
    if not pending:
        return 0
    by_account: dict[int | None, list[str]] = {}
    for order_id, account_id in pending:
        if order_id:
            by_account.setdefault(account_id, []).append(order_id)
    linked = 0
    for account_id, order_ids in by_account.items():
        links = _order_links(session, order_ids, account_id)
        account_filter = (
            Settlement.account_id.is_(None)
            if account_id is None
            else Settlement.account_id == account_id
        )
        for order_id, pk in links.items():
            result = session.execute(
                update(SettlementLine)
                .where(
                    SettlementLine.order_id == order_id,
                    SettlementLine.marketplace_order_pk.is_(None),
                    SettlementLine.settlement_pk.in_(select(Settlement.id).where(account_filter)),
                )
                .values(marketplace_order_pk=pk)
                .execution_options(synchronize_session=False)
            )
            linked += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if linked:
        _LOGGER.info("settlement lines linked to orders imported since: %s", linked)
    return linked


def _link_counts(session: Session, settlement_pk: int) -> tuple[int, int]:
    rows = session.execute(
        select(
            SettlementLine.order_id,
            func.max(SettlementLine.marketplace_order_pk),
        )
        .where(SettlementLine.settlement_pk == settlement_pk, SettlementLine.order_id.is_not(None))
        .group_by(SettlementLine.order_id)
    ).all()
    linked = sum(1 for _oid, pk in rows if pk is not None)
    return linked, len(rows) - linked


def _already(
    session: Session,
    existing: Settlement,
    parsed: ParsedSettlement,
    sha256: str,
    account_id: int | None,
    now: datetime,
) -> ImportResult:
    if existing.document_sha256 != sha256:
        difference = _difference(session, existing, parsed)
        if difference:
            raise SettlementConflictError(
                f"settlement {parsed.settlement_id} was imported on "
                f"{existing.imported_at:%Y-%m-%d %H:%M} UTC from {existing.source} "
                f"{existing.source_name!r}, and this document differs from it ({difference}); "
                "nothing was changed. Amazon does not change a closed settlement: check which "
                "file is right"
            )
    if existing.account_id is None and account_id is not None:
        existing.account_id = account_id  # the schedule met a file imported by hand
    relinked = link_pending_lines(session)
    linked, unlinked = _link_counts(session, existing.id)
    counts = dict(
        session.execute(
            select(SettlementLine.kind, func.count())
            .where(SettlementLine.settlement_pk == existing.id)
            .group_by(SettlementLine.kind)
        ).all()
    )
    _LOGGER.info("settlement %s already imported; nothing stored", parsed.settlement_id)
    return ImportResult(
        outcome=ImportOutcome.ALREADY_IMPORTED,
        settlement_pk=existing.id,
        settlement_id=existing.settlement_id,
        currency=existing.currency,
        marketplace_id=existing.marketplace_id,
        total_minor=existing.total_minor,
        lines_total_minor=existing.lines_total_minor,
        line_count=existing.line_count,
        kind_counts=counts,
        linked_orders=linked,
        unlinked_orders=unlinked,
        relinked_lines=relinked,
    )


def _difference(session: Session, existing: Settlement, parsed: ParsedSettlement) -> str:
    """What differs between a stored settlement and a parsed one ("" when the content is equal)."""
    for name, old, new in (
        ("currency", existing.currency, parsed.currency),
        ("total-amount", existing.total_minor, parsed.total_minor),
        ("start", existing.start_at, parsed.start_at),
        ("end", existing.end_at, parsed.end_at),
        ("rows", existing.line_count, len(parsed.lines)),
    ):
        if old != new:
            return f"{name}: stored {old}, new {new}"
    stored = session.execute(
        select(
            SettlementLine.row_no,
            SettlementLine.transaction_type,
            SettlementLine.amount_type,
            SettlementLine.amount_description,
            SettlementLine.amount_minor,
            SettlementLine.order_id,
            SettlementLine.order_item_code,
        )
        .where(SettlementLine.settlement_pk == existing.id)
        .order_by(SettlementLine.row_no)
    ).all()
    for old_row, line in zip(stored, _line_keys(parsed.lines), strict=False):
        if tuple(old_row[1:]) != line[1:]:  # line numbers may shift (blank lines)
            return f"line {line[0]}: stored {tuple(old_row[1:])}, new {line[1:]}"
    return ""


def _line_keys(
    lines: Sequence[ParsedLine],
) -> list[tuple[int, str, str, str, int, str | None, str | None]]:
    return [
        (
            ln.row_no,
            ln.transaction_type,
            ln.amount_type,
            ln.amount_description,
            ln.amount_minor,
            ln.order_id,
            ln.order_item_code,
        )
        for ln in sorted(lines, key=lambda ln: ln.row_no)
    ]


def _alarm_mismatch(session: Session, parsed: ParsedSettlement, now: datetime) -> None:
    message = (
        f"settlement {parsed.settlement_id} ({parsed.currency}): the rows add up to "
        f"{parsed.format_minor(parsed.lines_total_minor)}, total-amount says "
        f"{parsed.format_minor(parsed.total_minor)} "
        f"(difference {parsed.format_minor(parsed.mismatch_minor)})"
    )
    _LOGGER.warning("settlement mismatch: %s", message)
    alarms.raise_alarm(
        session,
        kind=ALARM_MISMATCH,
        key=f"{CHANNEL}:{parsed.settlement_id}",
        message=message,
        severity="warning",
        now=now,
    )
