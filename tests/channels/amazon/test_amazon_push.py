"""Quantity push: the pure planner, feed documents and reports, and pushes to the sandbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.channels.amazon.client import RetryPolicy
from hub.channels.amazon.mapping import SkuMap, SkuMapping
from hub.channels.amazon.push import (
    FeedBatch,
    ListingUpdate,
    PushBudget,
    PushPolicy,
    PushReport,
    QuantityChange,
    QuantityPusher,
    build_feed_document,
    coalesce,
    new_pending,
    plan_push,
    read_processing_report,
)
from hub.channels.amazon.sandbox import spec as model_spec
from hub.channels.amazon.state import PushOutcome, PushRecord
from hub.db.channels import DbChannelStore
from tests.channels.amazon.conftest import ClientFactory, Scenario, validate_json_schema
from tests.fixtures.util import wait_until

US = "ATVPDKIKX0DER"
CA = "A2EUQ1WTGCTBG2"
T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def change(sku: str, qty: int, seconds: int = 0, mid: str = US) -> QuantityChange:
    return QuantityChange(sku, mid, qty, T0 + timedelta(seconds=seconds))


def updates(*pairs: tuple[str, int], mid: str = US) -> list[ListingUpdate]:
    return [ListingUpdate(f"S-{sku}", mid, qty) for sku, qty in pairs]


def sku_map(skus: list[str], mids: tuple[str, ...] = (US,)) -> SkuMap:
    return SkuMap(
        SkuMapping(s, m, f"S-{s}", f"B0{i:08d}") for i, s in enumerate(skus) for m in mids
    )


# --- pure ------------------------------------------------------------------------------------


def test_repeated_changes_of_a_sku_are_coalesced_to_the_latest() -> None:
    latest = coalesce(
        [change("A", 5, 1), change("A", 3, 3), change("A", 4, 2), change("B", 1), change("B", 2)]
    )
    assert {k: v.quantity for k, v in latest.items()} == {("A", US): 3, ("B", US): 2}


def test_only_quantities_that_differ_from_what_was_pushed_become_pending() -> None:
    records = {
        US: {
            "S-A": PushRecord("S-A", US, 3, PushOutcome.ACCEPTED, "x", T0),
            "S-B": PushRecord("S-B", US, 0, PushOutcome.INVALID, "y", T0, ("bad",)),
        }
    }
    latest = coalesce([change("A", 3), change("B", 0), change("C", -2), change("NOPE", 1)])
    pending, unmapped = new_pending(latest, sku_map(["A", "B", "C"]), records, T0)
    assert [(p.seller_sku, p.quantity, p.outcome) for p in pending] == [
        ("S-C", 0, PushOutcome.PENDING)
    ]
    assert unmapped == [("NOPE", US)]


def test_a_few_updates_go_as_patches_zeros_first() -> None:
    plan = plan_push(
        updates(("a", 4), ("b", 0), ("c", 7), ("d", 0)), PushBudget(10, 1), PushPolicy()
    )
    assert [(u.seller_sku, u.quantity) for u in plan.patches] == [
        ("S-b", 0),
        ("S-d", 0),
        ("S-a", 4),
        ("S-c", 7),
    ]
    assert plan.feeds == ()
    assert plan.deferred == ()


def test_many_updates_go_as_one_feed_per_marketplace_and_zeros_still_by_patch() -> None:
    many = updates(*[(str(i), i % 5) for i in range(60)]) + updates(
        *[(str(i), 1) for i in range(30)], mid=CA
    )
    plan = plan_push(many, PushBudget(patches=5, feeds=2), PushPolicy(feed_threshold=25))
    assert [u.quantity for u in plan.patches] == [0] * 5
    assert [(f.marketplace_id, len(f.updates)) for f in plan.feeds] == [(US, 55), (CA, 30)]
    assert plan.deferred == ()


def test_nothing_is_planned_beyond_the_usage_plan() -> None:
    many = updates(*[(str(i), 1) for i in range(40)])
    plan = plan_push(many, PushBudget(patches=3, feeds=0), PushPolicy(feed_threshold=25))
    assert len(plan.patches) == 3
    assert plan.feeds == ()
    assert len(plan.deferred) == 37
    none = plan_push(updates(("z", 0), ("y", 2)), PushBudget(0, 0), PushPolicy())
    assert (none.patches, none.feeds, len(none.deferred)) == ((), (), 2)


def test_a_big_backlog_is_split_into_feeds_of_the_maximum_size() -> None:
    many = updates(*[(str(i), 1) for i in range(25)])
    plan = plan_push(many, PushBudget(0, 5), PushPolicy(feed_threshold=10, max_feed_messages=10))
    assert [len(f.updates) for f in plan.feeds] == [10, 10]
    assert len(plan.deferred) == 5  # below the threshold and no patch budget: next cycle


def test_the_feed_document_follows_the_published_schema() -> None:
    content, index = build_feed_document(
        "A1SELLER", FeedBatch(US, tuple(updates(("a", 0), ("b", 12))))
    )
    document = json.loads(content)
    validate_json_schema("listings-feed-schema-v2.json", document)
    for message in document["messages"]:
        validate_json_schema("listings-feed-message-schema-v2.json", message)
    assert index == ((1, "S-a", 0), (2, "S-b", 12))


def test_processing_report_verdicts_per_message() -> None:
    example = model_spec.load_model("listings-feed-processing-report-schema-v2.example.json")
    verdicts = read_processing_report(example, [1, 2, 3, 4, 5], fatal=False)
    assert {m: ok for m, (ok, _) in verdicts.items()} == {
        1: True,
        2: True,
        3: True,
        4: False,
        5: False,
    }
    assert any("batteries_required" in text for text in verdicts[4][1])
    fatal = read_processing_report(
        {"issues": [{"severity": "ERROR", "message": "bad header"}]}, [1, 2], fatal=True
    )
    assert fatal == {1: (False, ("bad header",)), 2: (False, ("bad header",))}


# --- against the sandbox -------------------------------------------------------------------


def setup_listings(
    scenario: Scenario,
    seller: dict[str, Any],
    count: int,
    quantity: int = 5,
    **extra_by_sku: dict[str, Any],
) -> SkuMap:
    skus = [f"C{i:03d}" for i in range(count)]
    for sku in skus:
        scenario.add_listing(seller["seller_id"], f"S-{sku}", quantity, **extra_by_sku.get(sku, {}))
    return sku_map(skus)


def drain_feeds(pusher: QuantityPusher, failures: list[str] | None = None) -> None:
    def done() -> bool:
        report = pusher.finish_feeds()
        if failures is not None:
            failures.extend(report.errors)
        return pusher.pending_feed_count() == 0

    wait_until(done, timeout=10, interval=0.1, message="feeds processed")


def latest_pushed(scenario: Scenario, seller: dict[str, Any]) -> dict[str, int]:
    latest = scenario.call("GET", f"/sellers/{seller['seller_id']}/pushes")["latest"]
    return {sku: by_mid[US] for sku, by_mid in latest.items()}


def test_a_few_skus_by_patch_many_by_feed_and_amazon_shows_them(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    mapping = setup_listings(scenario, seller, 40)
    client = make_client(seller)
    pusher = QuantityPusher(client, channel_store, mapping, policy=PushPolicy(feed_threshold=25))
    first = pusher.push([change("C000", 9), change("C001", 8), change("C001", 7, 5)])
    assert (first.patched, first.accepted, first.feeds_submitted) == (2, 2, [])
    assert latest_pushed(scenario, seller) == {"S-C000": 9, "S-C001": 7}

    wanted = {f"C{i:03d}": (0 if i in (10, 20) else 20 + i) for i in range(40)}
    second = pusher.push(change(sku, qty, 10) for sku, qty in wanted.items())
    assert second.patched == 2  # the two zeros jump the queue
    assert len(second.feeds_submitted) == 1
    drain_feeds(pusher)
    records = channel_store.push_records(client.account.name, US)
    assert {r.outcome for r in records.values()} == {PushOutcome.ACCEPTED}
    expected = {f"S-{sku}": qty for sku, qty in wanted.items()}
    assert latest_pushed(scenario, seller) == expected

    def listed() -> bool:
        rows = scenario.listings(seller["seller_id"])
        return all(
            rows[sku]["offers"][US]["listed_quantity"] == qty for sku, qty in expected.items()
        )

    wait_until(listed, timeout=10, interval=0.1, message="listed quantities")
    assert pusher.push(change(sku, qty, 20) for sku, qty in wanted.items()).recorded_pending == 0


def test_feed_report_errors_surface_per_sku_and_are_not_resent(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    mapping = setup_listings(
        scenario, seller, 30, C007={"reject_reason": "Listing suppressed: missing image."}
    )
    pusher = QuantityPusher(
        make_client(seller), channel_store, mapping, policy=PushPolicy(feed_threshold=25)
    )
    changes = [change(f"C{i:03d}", 3) for i in range(30)]
    assert len(pusher.push(changes).feeds_submitted) == 1
    finished = PushReport()
    wait_until(
        lambda: pusher.finish_feeds(finished).feeds_finished,
        timeout=10,
        interval=0.1,
        message="feed report read",
    )
    assert [
        (sku, any("missing image" in text for text in issues))
        for sku, _, issues in finished.invalid
    ] == [("S-C007", True)]
    record = channel_store.push_records(pusher.account, US)["S-C007"]
    assert (record.outcome, record.quantity) == (PushOutcome.INVALID, 3)
    calls_before = scenario.stats(seller["seller_id"])
    again = pusher.push(changes)
    assert (again.recorded_pending, again.patched, again.feeds_submitted) == (0, 0, [])
    assert scenario.stats(seller["seller_id"]).get(
        "listings/patchListingsItem"
    ) == calls_before.get("listings/patchListingsItem")
    fixed = pusher.push([change("C007", 4, 60)])  # a new quantity is tried again
    assert fixed.invalid == [("S-C007", US, ("8541 Listing suppressed: missing image.",))]


def test_a_429_storm_loses_no_update(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    mapping = setup_listings(scenario, seller, 12)
    client = make_client(
        seller, retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05)
    )
    pusher = QuantityPusher(client, channel_store, mapping, policy=PushPolicy(feed_threshold=1000))
    scenario.fault(
        kind="throttle",
        operation="listings/patchListingsItem",
        seller_id=seller["seller_id"],
        count=10_000,
        probability=0.6,
    )
    final: dict[str, int] = {}
    for round_ in range(3):
        batch = [change(f"C{i:03d}", (i + round_) % 4, round_ * 10 + i) for i in range(12)]
        final.update({f"S-{c.canonical_sku}": c.quantity for c in batch})
        pusher.push(batch)
    cycles = 0
    while any(
        r.outcome is PushOutcome.PENDING
        for r in channel_store.push_records(pusher.account, US).values()
    ):
        cycles += 1
        assert cycles < 60, "the backlog does not drain"
        pusher.push()
    scenario.call("DELETE", "/faults")
    assert client.stats.of("listings/patchListingsItem").throttled > 0
    assert latest_pushed(scenario, seller) == final
    records = channel_store.push_records(pusher.account, US)
    assert {sku: r.quantity for sku, r in records.items()} == final
    assert {r.outcome for r in records.values()} == {PushOutcome.ACCEPTED}


def test_a_patch_sent_while_a_feed_was_pending_is_sent_again_after_it(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    mapping = setup_listings(scenario, seller, 30, quantity=1)
    pusher = QuantityPusher(
        make_client(seller), channel_store, mapping, policy=PushPolicy(feed_threshold=25)
    )
    assert len(pusher.push(change(f"C{i:03d}", 6) for i in range(30)).feeds_submitted) == 1
    sold_out = pusher.push([change("C000", 0, 30)])  # the last unit sold before the feed ran
    assert sold_out.patched == 1
    drain_feeds(pusher)
    record = channel_store.push_records(pusher.account, US)["S-C000"]
    assert (record.outcome, record.quantity) == (PushOutcome.PENDING, 0)
    assert pusher.push().patched == 1

    def settled() -> bool:
        rows = scenario.listings(seller["seller_id"])
        offer = rows["S-C000"]["offers"][US]
        return not offer["pending"] and rows["S-C001"]["offers"][US]["listed_quantity"] == 6

    wait_until(settled, timeout=10, interval=0.1, message="all quantities applied")
    assert scenario.listings(seller["seller_id"])["S-C000"]["offers"][US]["listed_quantity"] == 0


def test_unmapped_skus_are_reported(
    scenario: Scenario,
    seller: dict[str, Any],
    make_client: ClientFactory,
    channel_store: DbChannelStore,
) -> None:
    mapping = setup_listings(scenario, seller, 1)
    pusher = QuantityPusher(make_client(seller), channel_store, mapping)
    report = pusher.push([change("C000", 2), change("GHOST", 2)])
    assert report.unmapped == [("GHOST", US)]
    assert mapping.unmapped(["C000", "GHOST"], [US, CA])[0].missing_marketplace_ids == (CA,)


@pytest.mark.parametrize("budget", [PushBudget(0, 0), PushBudget(2, 0), PushBudget(50, 3)])
def test_plan_covers_every_update_exactly_once(budget: PushBudget) -> None:
    many = updates(*[(str(i), i % 3) for i in range(70)])
    plan = plan_push(many, budget, PushPolicy(feed_threshold=20, max_feed_messages=30))
    sent = list(plan.patches) + [u for f in plan.feeds for u in f.updates] + list(plan.deferred)
    assert sorted(u.seller_sku for u in sent) == sorted(u.seller_sku for u in many)
    assert len(plan.patches) <= budget.patches
    assert len(plan.feeds) <= budget.feeds
