"""Examples the fuzzer found, kept: each once lost good events or crashed an apply.

They run on SQLite and PostgreSQL (a NUL character only breaks PostgreSQL).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.engine import make_sessionmaker
from hub.db.models import AppliedEvent, DeadLetter
from hub.ingest.apply import BatchApplier, InboundMessage
from protocol import topics
from tests.fuzz import generators as gen
from tests.fuzz.test_fuzz_hub import NOW, create

STORE = "fz-reg"


@pytest.fixture
def sessions(hub_engine: Engine) -> sessionmaker[Session]:
    factory = make_sessionmaker(hub_engine)
    with factory.begin() as session:
        create(session, STORE)
    return factory


def received(seq: int, **body: object) -> dict[str, object]:
    return {
        "v": 1,
        "id": gen.new_id(),
        "store": STORE,
        "seq": seq,
        "type": "stock.received",
        "at": gen.AT,
        "body": {"sku": "SKU-A", "qty": 1, **body},
    }


@pytest.mark.parametrize(
    ("poison", "seq_kept"),
    [
        pytest.param(received(2, qty=2**63), 2, id="body integer beyond 64 bits"),
        pytest.param(received(2**63), None, id="seq beyond 64 bits"),
        pytest.param(received(2, sku="A\ud800"), 2, id="lone surrogate"),
        pytest.param(received(2, reference="\udfff"), 2, id="lone low surrogate"),
        pytest.param(received(2, sku="A\x00B"), 2, id="NUL in the SKU"),
        pytest.param({**received(2), "till": "\x00"}, 2, id="NUL in an unknown field"),
    ],
)
def test_an_unstorable_value_is_refused_alone_and_its_neighbours_apply(
    sessions: sessionmaker[Session], poison: dict[str, object], seq_kept: int | None
) -> None:
    """Was: OverflowError / UnicodeEncodeError (SQLite) or DataError (PostgreSQL, NUL) in
    the batch transaction, the whole payload dead-lettered as apply_failed, the good events
    beside the poison one lost, and the store's ack stuck below it."""
    payload = gen.dumps([received(1), poison, received(3)])
    result = BatchApplier(sessions, clock=lambda: NOW).apply(
        [InboundMessage(topics.up_events(STORE), payload)]
    )
    assert (result.applied, dict(result.dead_reasons)) == (2, {"invalid_message": 1})
    with sessions() as session:
        assert sorted(session.scalars(select(AppliedEvent.seq))) == [1, 3]
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.reason, letter.seq, letter.item_index) == ("invalid_message", seq_kept, 1)


def test_an_event_that_fails_in_the_database_is_dead_lettered_alone(
    sessions: sessionmaker[Session],
) -> None:
    """An in-range adjustment the ledger cannot hold (received units plus 2**63 - 1
    overflow the 64-bit on-hand on both databases): only that event is dead-lettered, with
    its seq and index; the others of its batch apply."""
    big = {"type": "stock.adjusted", "body": {"sku": "SKU-A", "delta": 2**63 - 1, "reason": "x"}}
    batch = [received(1), {**received(2), **big}, received(3)]
    result = BatchApplier(sessions, clock=lambda: NOW).apply(
        [InboundMessage(topics.up_events(STORE), gen.dumps(batch))]
    )
    assert result.applied == 2
    assert dict(result.dead_reasons) == {"apply_failed": 1}
    with sessions() as session:
        assert sorted(session.scalars(select(AppliedEvent.seq))) == [1, 3]
        letter = session.scalars(select(DeadLetter)).one()
        assert (letter.seq, letter.item_index) == (2, 1)
