"""From a blank data folder to a first sale seen at the hub, through the real pieces:
`acorn provision enroll`, the edge agent with the written edge.toml, Mosquitto with the
hub's generated credentials and ACL, and the hub's ingest worker."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from edge_agent.app import EdgeAgent
from edge_agent.config import load_settings
from edge_agent.domain.sale import Cart
from edge_agent.domain.tender import Tender
from hub.db.catalog import import_csv
from hub.db.models import SaleFact, StockLevel
from hub.db.provisioning import set_opening_stock
from hub.ingest.worker import IngestWorker
from protocol.money import Money
from provisioning.cli import provision
from tests.fixtures.util import wait_until
from tests.provisioning.conftest import HubFactory

CATALOG_CSV = "sku,name,price,barcodes,tax_class\nMILK-1L,Milk 1L,1.20,5000112637922,zero\n"


def test_blank_box_to_first_sale_at_the_hub(hub_factory: HubFactory, tmp_path: Path) -> None:
    hub = hub_factory()
    now = datetime.now(UTC)
    with hub.sessions.begin() as session:
        import_csv(session, io.StringIO(CATALOG_CSV), now=now, default_currency="GBP")
    code = hub.create_store("s-501").code
    with hub.sessions.begin() as session:
        set_opening_stock(session, "s-501", "sku,on_hand\nMILK-1L,10\n", now=now)
    worker = IngestWorker(hub.settings.model_copy(update={"ingest_enabled": True}), hub.sessions)
    worker.start()
    box = tmp_path / "blank"
    assert not box.exists()
    try:
        result = CliRunner().invoke(
            provision, ["enroll", "--hub", hub.url, "--code", code, "--data-dir", str(box)]
        )
        assert result.exit_code == 0, result.output
        settings = load_settings(box / "edge.toml", ui={"port": 0})
        agent = EdgeAgent(settings)
        agent.start()
        try:
            store = agent.store
            item = store.catalog.get("MILK-1L").as_item(store.currency)
            cart = Cart.start(uuid.uuid4(), store.policy).add(item, 2)
            store.sales.complete(
                cart, cashier_id="c1", tenders=[Tender.cash(Money(500, store.currency))]
            )

            def sold_at_hub() -> bool:
                with hub.sessions() as s:
                    qty = s.scalar(
                        select(func.sum(SaleFact.qty)).where(SaleFact.store_id == "s-501")
                    )
                    return qty == 2

            wait_until(sold_at_hub, timeout=20, message="the sale reached the hub")
            with hub.sessions() as s:
                level = s.get(StockLevel, ("s-501", "MILK-1L"))
                assert level is not None
                assert level.on_hand == 8  # opening 10, counted by the box at enrollment, -2
            assert store.stock.level("MILK-1L").on_hand == 8
        finally:
            agent.stop()
    finally:
        worker.stop()
