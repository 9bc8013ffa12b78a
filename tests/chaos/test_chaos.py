"""Chaos scenarios: faults under traffic, then every sale exactly once at the hub.

Each scenario rings sales at the tills through their HTTP API, breaks something in
the middle (the broker, the hub, an agent, a store's network, the delivery order,
a till's clock), stops ringing, waits (with a deadline) until every till's outbox is
acknowledged, and then compares the tills' own databases with the hub's: every sale
exactly once, the hub's stock per SKU equal to each store's, no dead letters, and
no marketplace listing above what the stores can sell. See docs/chaos.md.
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from hub.domain.business_day import business_day
from protocol import topics
from tests.chaos.conftest import Collector, Row
from tests.chaos.world import FAKETIME_HINT, World, faketime_library, read_only
from tests.fixtures.mqtt import mqtt_client
from tests.fixtures.util import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@contextlib.contextmanager
def scenario(world: World, collector: Collector, name: str) -> Iterator[Row]:
    """Record the scenario's row; after the body, stop ringing, drain and check everything."""
    row = Row(name)
    collector.rows.append(row)
    started = time.monotonic()
    before = world.seqs()
    try:
        yield row
        world.stop_ringing()
        drain_started = time.monotonic()
        world.wait_drained()
        drained_at = time.monotonic()
        result = world.check(before)
        row.notes.append(
            f"drained {drained_at - drain_started:.1f} s after the last sale, "
            f"checked (listings settled) in {time.monotonic() - drained_at:.1f} s"
        )
        row.sent, row.applied = result.sent, result.applied
        row.lost, row.duplicated = result.lost, result.duplicated
        row.notes += world.take_notes()
        problems = list(result.problems)
        for check in row.checks:
            problems += check()
        row.notes += problems
        row.result = "OK" if not problems else "FAILED"
        assert not problems, "\n".join(problems)
    except BaseException:
        if row.result == "not run":
            row.result = "ERROR"
        raise
    finally:
        with contextlib.suppress(AssertionError):
            world.stop_ringing()
        row.seconds = time.monotonic() - started
        if row.result != "OK":
            row.notes += world.take_notes()


def test_broker_restart_under_traffic(healthy_world: World, collector: Collector) -> None:
    """GIVEN three tills ringing, WHEN Mosquitto restarts, then crashes and comes back,
    THEN nothing is lost or doubled."""
    world = healthy_world
    with scenario(world, collector, "broker restart + crash") as row:
        world.start_ringing()
        for store_id in world.tills:
            world.wait_rung(store_id, 8)
        world.broker.restart()
        for store_id in world.tills:
            world.wait_rung(store_id, 8)
        # a crash: what Mosquitto queued since its last save (at the restart) is gone
        world.broker.kill()
        world.broker.start()
        for store_id in world.tills:
            world.wait_rung(store_id, 8)
        row.notes.append(
            "Mosquitto stopped (SIGTERM, persistence saved) and started, then SIGKILLed "
            "(queued messages since the last save lost) and started"
        )


def test_hub_kill9_in_the_middle_of_a_batch(healthy_world: World, collector: Collector) -> None:
    """GIVEN tills ringing and a hub that stalled (SIGSTOP) while the broker queued their
    events, WHEN the hub resumes and is SIGKILLed as soon as the first batch of its
    catch-up has committed, THEN after a restart every sale is applied exactly once."""
    world = healthy_world
    with scenario(world, collector, "hub kill -9 mid-batch") as row:
        world.start_ringing()
        for store_id in world.tills:
            world.wait_rung(store_id, 5)
        # a stall (a long GC pause, a frozen VM): the broker keeps sending into the hub's
        # socket and queues the rest for its session, the tills go on selling
        world.hub.signal_group(signal.SIGSTOP)
        try:
            for store_id in world.tills:
                world.wait_rung(store_id, 8)
            backlog = sum(t.last_seq() - world.hub_contiguous(s) for s, t in world.tills.items())
            base = world.hub_applied_total()
        finally:
            world.hub.signal_group(signal.SIGCONT)
        wait_until(
            lambda: world.hub_applied_total() > base,
            timeout=60,
            interval=0.002,
            message="the hub applies the backlog",
        )
        world.hub.kill9()
        part = world.hub_applied_total() - base
        world.hub.start()
        for store_id in world.tills:
            world.wait_rung(store_id, 3)
        row.notes.append(
            f"backlog of {backlog} events after the stall; SIGKILL after the first "
            f"{part} of them were applied (batches of at most 20 messages), then a restart"
        )
        assert part < backlog, "the kill came after the whole backlog was applied"


def test_edge_kill9_in_the_middle_of_a_sale(healthy_world: World, collector: Collector) -> None:
    """GIVEN a shopper at a till, WHEN the agent is SIGKILLed while a sale's ``complete``
    request is on its way (twice; up to four times until a kill cut one), THEN every sale
    the till holds reaches the hub once and every sale the till confirmed is in its
    database."""
    world = healthy_world
    store_id = "s-seattle"
    agent = world.tills[store_id].agent
    rng = random.Random(9)
    with scenario(world, collector, "edge kill -9 mid-sale") as row:
        world.start_ringing()
        ringer = world.ringers[store_id]

        def kill_during_complete(delay_s: float) -> None:
            world.wait_rung(store_id, 6)
            assert ringer.completing.wait(10), "no sale was being completed"
            time.sleep(delay_s)
            agent.kill9()
            agent.start()

        # the first kill as soon as the request leaves, the second a few ms into it (the
        # till may have committed the sale by then, or not)
        kills = [0.0, rng.uniform(0.003, 0.03)]
        for delay_s in kills:
            kill_during_complete(delay_s)
        world.wait_rung(store_id, 6)
        # a loaded machine may wake this thread only after the till answered: try again
        while ringer.counters.retried_after_crash == 0 and len(kills) < 4:
            kills.append(0.0)
            kill_during_complete(0.0)
            world.wait_rung(store_id, 6)
        row.checks.append(
            lambda: (
                []
                if ringer.counters.retried_after_crash >= 1
                else ["the shopper never had to ask about a sale cut by the kill"]
            )
        )
        row.notes.append(
            f"agent killed {len(kills)} times during POST /api/cart/complete; the shopper "
            "asked again with the same cart id "
            f"{ringer.counters.retried_after_crash} time(s): the till had committed "
            f"{ringer.counters.found_after_crash} of those sales"
        )


def test_partition_a_store_for_many_sales_then_heal(
    healthy_world: World, collector: Collector
) -> None:
    """GIVEN a store whose network path goes silent (its proxy frozen: no packets, no FIN),
    WHEN it rings many sales offline and the path comes back, THEN all of them sync once."""
    world = healthy_world
    store_id = "s-berlin"
    till = world.tills[store_id]
    with scenario(world, collector, "partition + heal") as row:
        world.start_ringing()
        world.wait_rung(store_id, 5)
        world.blackhole(store_id)
        world.wait_rung(store_id, 30)
        wait_until(
            lambda: not world.hub_store_online(store_id),
            timeout=30,
            interval=0.2,
            message="the hub sees the store offline (Last Will after the keepalive)",
        )
        wait_until(lambda: not till.online(), timeout=30, message="the till says offline")
        queued = till.outbox_depth()
        world.heal(store_id)
        world.wait_rung(store_id, 8)
        wait_until(lambda: world.hub_store_online(store_id), timeout=30, message="back online")
        row.notes.append(f"{queued} events queued at the till while it was cut off")
        assert queued >= 30


def test_duplicated_and_reordered_deliveries(healthy_world: World, collector: Collector) -> None:
    """GIVEN a store offline with events queued, WHEN those events reach the broker out of
    order and several times (a client with the store's own credentials), and then the
    till resends them itself, THEN the hub applies each exactly once."""
    world = healthy_world
    store_id = "s-london"
    till = world.tills[store_id]
    with scenario(world, collector, "duplicate + reorder") as row:
        world.start_ringing()
        world.wait_rung(store_id, 5)
        world.cut(store_id)
        wait_until(lambda: not till.online(), timeout=20, message="the till says offline")
        world.wait_rung(store_id, 20)
        queued = [(seq, json.loads(text)) for seq, text in till.outbox(0)]
        first = world.hub_contiguous(store_id) + 1
        queued = [(seq, env) for seq, env in queued if seq >= first]
        assert len(queued) >= 20, queued
        topic = topics.up_events(store_id)
        copies = 0
        with mqtt_client(
            world.broker,
            store_id,
            password=till.broker_password,
            client_id=f"chaos-replay-{store_id}",
            protocol=5,
        ) as replay:
            for _ in range(2):  # newest first, one event per message, twice
                for _seq, env in reversed(queued):
                    assert not replay.publish(topic, json.dumps([env])).is_failure
                    copies += 1
            # and all of them again as one batch
            assert not replay.publish(topic, json.dumps([e for _, e in queued])).is_failure
            copies += len(queued)
        wait_until(
            lambda: world.hub_contiguous(store_id) >= queued[-1][0],
            timeout=30,
            interval=0.1,
            message="the hub applied the replayed events",
        )
        with read_only(world.hub_db) as conn:
            # one applied_at per transaction: which seqs each of the hub's batches applied
            batches = [
                f"{lo}..{hi}"
                for lo, hi in conn.execute(
                    "SELECT MIN(seq), MAX(seq) FROM applied_events WHERE store_id = ? AND seq >= ? "
                    "GROUP BY applied_at ORDER BY applied_at",
                    (store_id, first),
                )
            ]
        # the till comes back and sends its whole outbox again (it never saw an ack)
        world.heal(store_id)
        world.wait_rung(store_id, 6)
        row.notes.append(
            f"{len(queued)} queued events (seq {queued[0][0]}..{queued[-1][0]}) delivered "
            f"{copies} times by a second client with the store's credentials, newest first, "
            "then again by the till itself; the hub's transactions applied seqs "
            + ", ".join(batches)
            + " in that order"
        )


def test_clock_skew_of_an_hour(healthy_world: World, collector: Collector) -> None:
    """GIVEN a till whose clock runs an hour fast (libfaketime), then is set right (the
    clock jumps back), WHEN it rings sales, THEN they are unique at the hub, the hub books
    each on the business day the till printed, and that day is sane."""
    library = faketime_library()
    if library is None:
        pytest.fail(FAKETIME_HINT, pytrace=False)
    world = healthy_world
    store_id = "s-berlin"
    till = world.tills[store_id]
    with scenario(world, collector, "clock skew +1 h") as row:
        known = set(till.sales())
        world.restart_agent(
            store_id,
            extra_env={
                "LD_PRELOAD": library,
                "FAKETIME": "+1h",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            },
        )
        real_from = datetime.now(UTC)
        world.start_ringing()
        world.wait_rung(store_id, 15)
        world.stop_ringing([store_id])
        real_to = datetime.now(UTC)
        skewed = {k: v for k, v in till.sales().items() if k not in known}
        # the clock is set right: it jumps back an hour under the running business
        world.restart_agent(store_id)
        world.start_ringing([store_id])
        world.wait_rung(store_id, 8)
        row.checks.append(lambda: _skew_problems(world, store_id, skewed, real_from, real_to))
        row.notes.append(
            f"{len(skewed)} sales rung with the till's clock an hour fast, then more after "
            "it was set back; the hub keeps the till's timestamps and business days as sent"
        )


def _skew_problems(
    world: World,
    store_id: str,
    skewed: dict[str, tuple[str, str]],
    real_from: datetime,
    real_to: datetime,
) -> list[str]:
    """What is wrong with the sales rung under a fast clock, as the hub holds them."""
    problems: list[str] = []
    tz = world.tills[store_id].tz
    if not skewed:
        return ["no sale was rung while the clock was skewed"]
    days_at_hub = world.hub_fact_days(store_id)
    real_days = {business_day(real_from, tz), business_day(real_to, tz)}
    for sale_id, (day_text, at_text) in skewed.items():
        at = datetime.fromisoformat(at_text.replace("Z", "+00:00"))
        if not real_from + timedelta(minutes=55) <= at <= real_to + timedelta(minutes=65):
            problems.append(f"sale {sale_id} at {at_text}: the till's clock was not an hour fast")
        day = date.fromisoformat(day_text)
        if day != business_day(at, tz):
            problems.append(f"sale {sale_id}: till's business day {day} is not that of {at}")
        if min(abs((day - d).days) for d in real_days) > 1:
            problems.append(f"sale {sale_id}: business day {day} is far from the real one")
        if days_at_hub.get(sale_id) != {day_text}:
            problems.append(
                f"sale {sale_id}: the hub booked it on {days_at_hub.get(sale_id)}, "
                f"the till on {day_text}"
            )
    with read_only(world.hub_db) as conn:
        leads = [
            datetime.fromisoformat(str(applied)) - datetime.fromisoformat(str(at))
            for at, applied in conn.execute(
                "SELECT at, applied_at FROM applied_events "
                "WHERE store_id = ? AND type = 'sale.completed' ORDER BY seq DESC LIMIT 200",
                (store_id,),
            )
        ]
    if not any(lead < -timedelta(minutes=50) for lead in leads):
        problems.append("no applied event carries the till's fast timestamp")
    return problems
