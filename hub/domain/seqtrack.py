"""Per-store sequence bookkeeping: highest contiguous seq, open gaps, when to ask for a resend."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class SeqState:
    """What the hub knows about one store's event stream."""

    contiguous: int = 0
    """Highest seq such that every seq from 1 up to it has been applied."""
    highest_seen: int = 0
    """Highest seq applied or announced by the store (birth ``last_seq``)."""
    gap_since: datetime | None = None
    """When the current gap was first seen; None when there is no gap."""
    last_resend_at: datetime | None = None

    @property
    def has_gap(self) -> bool:
        """True when something above the contiguous seq is known to exist."""
        return self.highest_seen > self.contiguous


def advance(state: SeqState, applied_above: Iterable[int], *, now: datetime) -> SeqState:
    """Fold the applied seqs above ``state.contiguous`` (any order) into a new state."""
    seqs = sorted({s for s in applied_above if s > state.contiguous})
    contiguous = state.contiguous
    for seq in seqs:
        if seq != contiguous + 1:
            break
        contiguous = seq
    highest = max([state.highest_seen, contiguous, *seqs])
    return _with_gap_clock(replace(state, contiguous=contiguous, highest_seen=highest), now)


def announce(state: SeqState, last_seq: int | None, *, now: datetime) -> SeqState:
    """Take in the ``last_seq`` a store announced in its birth: events we have not seen exist."""
    if last_seq is None or last_seq <= state.highest_seen:
        return state
    return _with_gap_clock(replace(state, highest_seen=last_seq), now)


def _with_gap_clock(state: SeqState, now: datetime) -> SeqState:
    if not state.has_gap:
        return replace(state, gap_since=None, last_resend_at=None)
    if state.gap_since is None:
        return replace(state, gap_since=now)
    return state


def resend_due(state: SeqState, *, now: datetime, after: timedelta) -> int | None:
    """The seq to ask the store to resend from, or None when no request is due.

    A gap must stay open for ``after`` before the first request, and requests repeat
    at most once per ``after`` while it stays open.
    """
    if not state.has_gap or state.gap_since is None:
        return None
    if now - state.gap_since < after:
        return None
    if state.last_resend_at is not None and now - state.last_resend_at < after:
        return None
    return state.contiguous + 1
