"""Channel sellable quantity (share, buffer, cap) and the SKU mapping CSV."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.channels.amazon.mapping import SkuMap, parse_mapping_csv
from hub.domain.channel_stock import (
    ChannelStockPolicy,
    changed_quantities,
    channel_quantities,
    channel_sellable,
)
from hub.domain.ledger import LocationStock

US = "ATVPDKIKX0DER"
UK = "A1F83G8C2ARO7P"

STOCKS = [
    LocationStock("s-001", on_hand=10, reserved=2, safety_stock=1),  # 7
    LocationStock("s-002", on_hand=3, reserved=5),  # below zero counts as 0
    LocationStock("wh-1", on_hand=40, reserved=0, safety_stock=4),  # 36
]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ChannelStockPolicy(), 43),
        (ChannelStockPolicy(share_bp=5_000), 21),  # half of 43, rounded down
        (ChannelStockPolicy(share_bp=5_000, buffer=5), 16),
        (ChannelStockPolicy(buffer=100), 0),
        (ChannelStockPolicy(max_quantity=25), 25),
        (ChannelStockPolicy(allowed_locations=frozenset({"s-001", "s-002"})), 7),
        (ChannelStockPolicy(share_bp=0), 0),
    ],
)
def test_channel_sellable_quantity(policy: ChannelStockPolicy, expected: int) -> None:
    assert channel_sellable(STOCKS, policy) == expected


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="share_bp"):
        ChannelStockPolicy(share_bp=10_001)
    with pytest.raises(ValueError, match="buffer"):
        ChannelStockPolicy(buffer=-1)


stock = st.builds(
    LocationStock,
    st.sampled_from(["a", "b", "c"]),
    st.integers(-5, 500),
    st.integers(0, 50),
    st.integers(0, 20),
)
policies = st.builds(
    ChannelStockPolicy,
    share_bp=st.integers(0, 10_000),
    buffer=st.integers(0, 30),
    max_quantity=st.none() | st.integers(0, 200),
)


@given(st.lists(stock, max_size=6), policies, st.integers(1, 50))
def test_sellable_never_negative_never_above_the_pool_and_monotone(
    stocks: list[LocationStock], policy: ChannelStockPolicy, extra: int
) -> None:
    quantity = channel_sellable(stocks, policy)
    pool = sum(max(0, s.on_hand - s.reserved - s.safety_stock) for s in stocks)
    assert 0 <= quantity <= pool
    more = [*stocks, LocationStock("a", extra, 0, 0)]
    assert channel_sellable(more, policy) >= quantity


def test_only_changed_quantities_are_pushed_and_a_vanished_sku_goes_to_zero() -> None:
    before = channel_quantities(
        {"A": STOCKS, "B": STOCKS[:1], "C": STOCKS[:1]}, ChannelStockPolicy()
    )
    after = channel_quantities({"A": STOCKS, "B": STOCKS[:2]}, ChannelStockPolicy(buffer=1))
    assert changed_quantities(before, after) == {"A": 42, "B": 6, "C": 0}
    assert changed_quantities(after, after) == {}


CSV = """canonical_sku,marketplace,seller_sku,asin,product_type,notes
MUG-RED,US,AC-MUG-RED,B00000MUG1,,first
MUG-RED,UK,AC-MUG-RED-UK,b00000mug2,KITCHEN,
TEE-S,ATVPDKIKX0DER,AC-TEE-S,B00000TEE1,,
BAD,,,nope,,
MUG-RED,US,AC-MUG-OTHER,B00000MUG3,,duplicate canonical
TEE-M,US,AC-TEE-S,B00000TEE2,,duplicate seller sku
,,,,,
"""


def test_mapping_csv_keeps_good_rows_and_reports_every_problem() -> None:
    mappings, errors = parse_mapping_csv("\ufeff" + CSV)
    assert [
        (m.canonical_sku, m.marketplace_id, m.seller_sku, m.asin, m.product_type) for m in mappings
    ] == [
        ("MUG-RED", US, "AC-MUG-RED", "B00000MUG1", "PRODUCT"),
        ("MUG-RED", UK, "AC-MUG-RED-UK", "B00000MUG2", "KITCHEN"),
        ("TEE-S", US, "AC-TEE-S", "B00000TEE1", "PRODUCT"),
    ]
    by_line = {e.line: e.messages for e in errors}
    assert sorted(by_line) == [5, 6, 7]
    assert len(by_line[5]) == 3  # seller sku, asin and marketplace all wrong
    assert "already mapped" in by_line[6][0]
    assert "already used" in by_line[7][0]
    sku_map = SkuMap(mappings)
    assert sku_map.for_seller_sku("AC-MUG-RED-UK", UK) == mappings[1]
    assert [
        (u.canonical_sku, u.missing_marketplace_ids)
        for u in sku_map.unmapped(["MUG-RED", "TEE-S", "NEW"], [US, UK])
    ] == [
        ("NEW", (US, UK)),
        ("TEE-S", (UK,)),
    ]


def test_mapping_csv_without_required_columns() -> None:
    mappings, errors = parse_mapping_csv("sku,asin\nA,B000000001\n")
    assert mappings == []
    assert errors[0].messages == ("missing column(s): canonical_sku, marketplace, seller_sku",)
