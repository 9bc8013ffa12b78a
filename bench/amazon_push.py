"""Amazon quantity push: SP-API calls per 1,000 stock changes, and change-to-listing latency.

Run: .venv/bin/python bench/amazon_push.py [--changes 1000] [--skus 200] [--samples 40] [--seed 7]
                                           [--feed-rounds 3] [--quick]

Part 1, calls (sandbox in fast mode; the count depends on batching, not on speed):
1,000 stock changes (store sales of one unit on a random SKU, popular SKUs more
often; now and then a delivery of 10) reach the pusher in batches of 50, one push
cycle per batch, as the hub's channel worker would hand them over. The channel
lists max(0, stock - 2). Counts every SP-API HTTP call the client makes (patches,
feed document/upload-free calls, createFeed, getFeed polls, getFeedDocument),
against the 1,000 calls of one patch per change.

Part 2, latency (sandbox with production usage plans and delays: an accepted
quantity shows 2 s later; a feed waits 2 s in queue and takes 3 s): time from
handing a change to the pusher until the listing shows it (polled through the
scenario API every 50 ms). Patch path: one sale every 250 ms. Feed path: 40 SKUs
changed at once, ``--feed-rounds`` times.

Ceilings: calls are compared with one patch per change (the naive client), latency
with the sandbox's own accepted -> visible delay (2 s): no push can be faster.

Not included: the store's edge agent, MQTT and the hub ledger in front of the pusher;
the end-to-end store-sale-to-listing figure comes with the hub's channel worker.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from _common import add_quick, apply_defaults, figure, load_line

from hub.channels.amazon.account import CredentialCipher, LwaCredentials, SellerAccount
from hub.channels.amazon.client import RetryPolicy, SpApiClient
from hub.channels.amazon.mapping import SkuMap, SkuMapping
from hub.channels.amazon.marketplaces import Region
from hub.channels.amazon.push import PushPolicy, QuantityChange, QuantityPusher
from hub.channels.amazon.sandbox import SandboxServer, SandboxState, Settings
from hub.channels.amazon.state import PushOutcome
from hub.db import channels as channel_repo
from hub.db.channels import DbChannelStore
from hub.db.engine import make_engine, make_sessionmaker
from hub.db.migrate import upgrade

US = "ATVPDKIKX0DER"
BUFFER = 2


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Rig:
    """A sandbox, one seller with listings, a client, the hub database (SQLite) and a pusher."""

    def __init__(self, settings: Settings, skus: int, folder: Path, start: int) -> None:
        self.server = SandboxServer(SandboxState(settings=settings)).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=10)
        seller = self.http.post("/_sandbox/sellers", json={"marketplaces": ["US"]}).json()
        self.seller_id = seller["seller_id"]
        self.skus = [f"SKU-{i:04d}" for i in range(skus)]
        for sku in self.skus:
            self.http.post(
                f"/_sandbox/sellers/{self.seller_id}/listings",
                json={"sku": f"AZ-{sku}", "quantity": start - BUFFER},
            ).raise_for_status()
        account = SellerAccount(
            "bench",
            self.seller_id,
            Region.NA,
            (US,),
            LwaCredentials(seller["client_id"], seller["client_secret"], seller["refresh_token"]),
            endpoint_url=f"{self.server.url}/na",
            lwa_token_url=self.server.token_url,
        )
        self.client = SpApiClient(account, retry=RetryPolicy(base_delay_s=0.05, max_delay_s=2))
        self.engine = make_engine(f"sqlite:///{folder / 'hub.db'}", writer=True)
        upgrade(self.engine)
        self.store = DbChannelStore(make_sessionmaker(self.engine))
        with self.store.sessions.begin() as session:
            channel_repo.add_account(
                session,
                account,
                CredentialCipher(CredentialCipher.generate_key()),
                now=datetime.now(UTC),
            )
        mapping = SkuMap(
            SkuMapping(s, US, f"AZ-{s}", f"B0{i:08d}") for i, s in enumerate(self.skus)
        )
        self.pusher = QuantityPusher(
            self.client, self.store, mapping, policy=PushPolicy(feed_threshold=25)
        )

    def listed(self) -> dict[str, int]:
        rows = self.http.get(f"/_sandbox/sellers/{self.seller_id}/listings").json()["listings"]
        return {r["sku"][3:]: r["offers"][US]["listed_quantity"] for r in rows}

    def settled(self) -> bool:
        records = self.store.push_records("bench", US).values()
        return self.pusher.pending_feed_count() == 0 and not any(
            r.outcome is PushOutcome.PENDING for r in records
        )

    def close(self) -> None:
        self.client.close()
        self.engine.dispose()
        self.http.close()
        self.server.stop()


def calls_per_changes(changes: int, skus: int, seed: int, folder: Path) -> None:
    rng = random.Random(seed)
    rig = Rig(Settings.fast_mode(), skus, folder, start=20)
    try:
        stock = dict.fromkeys(rig.skus, 20)
        weights = [1 / (rank + 1) for rank in range(skus)]  # a few SKUs sell most
        batch: list[QuantityChange] = []
        cycles = 0
        for n in range(changes):
            sku = rng.choices(rig.skus, weights)[0]
            stock[sku] = (
                stock[sku] + 10 if stock[sku] == 0 or rng.random() < 0.02 else stock[sku] - 1
            )
            batch.append(QuantityChange(sku, US, max(0, stock[sku] - BUFFER), datetime.now(UTC)))
            if len(batch) == 50 or n == changes - 1:
                rig.pusher.push(batch)
                batch, cycles = [], cycles + 1
                time.sleep(0.05)
        deadline = time.monotonic() + 60
        while not rig.settled():
            if time.monotonic() > deadline:
                raise SystemExit("push backlog did not drain")
            rig.pusher.push()
            cycles += 1
            time.sleep(0.1)
        wanted = {s: max(0, q - BUFFER) for s, q in stock.items()}
        deadline = time.monotonic() + 30
        while rig.listed() != wanted:
            if time.monotonic() > deadline:
                raise SystemExit("listings do not match the stock")
            time.sleep(0.1)
        ops = rig.client.stats.operations
        total = rig.client.stats.calls
        print(f"calls: {changes} stock changes on {skus} SKUs, {cycles} push cycles")
        for name in sorted(ops):
            print(f"  {name:32s} {ops[name].calls:5d} (throttled {ops[name].throttled})")
        print(
            f"  total SP-API calls            {total:5d}  = "
            f"{total * 1000 / changes:.0f} per 1,000 changes (one patch per change: 1,000)"
        )
        print("  listings match the stock after the run: yes")
        figure(
            f"SP-API calls for {changes} stock changes",
            total,
            "calls",
            ceiling="one patch per change",
            ceiling_value=changes,
            higher_is_better=False,
        )
    finally:
        rig.close()


def latency(samples: int, seed: int, folder: Path, feed_rounds: int) -> None:
    rng = random.Random(seed)
    rig = Rig(Settings(), 60, folder, start=30)
    try:
        stock = dict.fromkeys(rig.skus, 30)

        def wait_visible(
            expected: dict[str, int], started: dict[str, float], out: list[float]
        ) -> None:
            deadline = time.monotonic() + 120
            last_push = time.monotonic()
            while expected:
                if time.monotonic() > deadline:
                    raise SystemExit("a pushed quantity never showed")
                listed = rig.listed()
                now = time.monotonic()
                for sku in [s for s, q in expected.items() if listed.get(s) == q]:
                    out.append(now - started.pop(sku))
                    del expected[sku]
                if now - last_push > 0.5:  # a push cycle also reads finished feeds
                    rig.pusher.push()
                    last_push = now
                time.sleep(0.05)

        patch_times: list[float] = []
        expected: dict[str, int] = {}
        started: dict[str, float] = {}
        for _ in range(samples):
            sku = rng.choice([s for s in rig.skus if s not in expected])
            stock[sku] -= 1
            expected[sku] = stock[sku] - BUFFER
            started[sku] = time.monotonic()
            rig.pusher.push([QuantityChange(sku, US, expected[sku], datetime.now(UTC))])
            listed = rig.listed()
            now = time.monotonic()
            for done in [s for s, q in expected.items() if listed.get(s) == q]:
                patch_times.append(now - started.pop(done))
                del expected[done]
            time.sleep(0.25)
        wait_visible(expected, started, patch_times)

        feed_times: list[float] = []
        for _round in range(feed_rounds):
            chosen = rng.sample(rig.skus, 40)
            began = time.monotonic()
            changes = []
            for sku in chosen:
                stock[sku] -= 1
                changes.append(QuantityChange(sku, US, stock[sku] - BUFFER, datetime.now(UTC)))
            rig.pusher.push(changes)
            wait_visible(
                {c.canonical_sku: c.quantity for c in changes},
                dict.fromkeys(chosen, began),
                feed_times,
            )
        print("latency: change handed to the pusher -> listing shows it (production usage plans,")
        print("         sandbox delays: accepted -> visible 2 s; feed queue 2 s + processing 3 s)")
        print(
            f"  patch path ({len(patch_times)} samples): p50 {pct(patch_times, 0.5):.2f} s, "
            f"p95 {pct(patch_times, 0.95):.2f} s, max {max(patch_times):.2f} s"
        )
        if feed_times:
            print(
                f"  feed path  ({len(feed_times)} samples):  p50 {pct(feed_times, 0.5):.2f} s, "
                f"p95 {pct(feed_times, 0.95):.2f} s, max {max(feed_times):.2f} s"
            )
        print(
            f"  overhead over the sandbox delay (patch p50): {pct(patch_times, 0.5) - 2.0:.2f} s; "
            f"mean {statistics.mean(patch_times):.2f} s"
        )
        figure(
            "quantity change -> listing shows it (patch path), p50",
            pct(patch_times, 0.5),
            "s",
            ceiling="the sandbox's accepted -> visible delay",
            ceiling_value=Settings().listing_apply_delay_s,
            higher_is_better=False,
        )
    finally:
        rig.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_quick(parser)
    parser.add_argument("--changes", type=int, help="stock changes in part 1 (1000)")
    parser.add_argument("--skus", type=int, help="SKUs in part 1 (200)")
    parser.add_argument("--samples", type=int, help="patch-path latency samples (40)")
    parser.add_argument("--feed-rounds", type=int, help="feed-path rounds of 40 SKUs (3; 0: none)")
    parser.add_argument("--seed", type=int, default=7)
    args = apply_defaults(
        parser.parse_args(),
        {"changes": 1000, "skus": 200, "samples": 40, "feed_rounds": 3},
        {"changes": 200, "skus": 50, "samples": 3, "feed_rounds": 0},
    )
    with tempfile.TemporaryDirectory(prefix="acorn-amazon-bench-") as tmp:
        folder = Path(tmp)
        (folder / "calls").mkdir()
        (folder / "latency").mkdir()
        calls_per_changes(args.changes, args.skus, args.seed, folder / "calls")
        latency(args.samples, args.seed, folder / "latency", args.feed_rounds)
    print(load_line("at the end"))


if __name__ == "__main__":
    main()
