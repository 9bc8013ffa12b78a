"""``acorn sandbox amazon``: the SP-API sandbox server on its own."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click

from hub.channels.amazon.marketplaces import MARKETPLACES_BY_CODE
from hub.channels.amazon.sandbox.server import SandboxServer
from hub.channels.amazon.sandbox.state import SandboxState, Settings

# One demo seller per region, created when the state is empty (or with --seed).
DEMO_SELLERS = (
    ("ACORNDEMONA", ["US", "CA"]),
    ("ACORNDEMOEU", ["UK", "DE", "FR", "IT", "ES"]),
    ("ACORNDEMOFE", ["JP"]),
)


@click.command(name="amazon")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (keep it on loopback).",
)
@click.option(
    "--port", default=8700, show_default=True, type=int, help="TCP port (0: any free port)."
)
@click.option(
    "--state-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON snapshot: loaded at start when it exists, written after every change.",
)
@click.option(
    "--fast",
    is_flag=True,
    help="Scale every usage-plan refill rate by 100 and shorten feed and listing delays.",
)
@click.option(
    "--seed/--no-seed",
    default=True,
    show_default=True,
    help="Create one demo seller per region when the state has no seller.",
)
def amazon_sandbox(host: str, port: int, state_file: Path | None, fast: bool, seed: bool) -> None:
    """Run the Amazon SP-API sandbox: LWA, Orders, Listings, Feeds, Reports and /_sandbox."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    state = SandboxState.load_or_new(state_file, settings=Settings.fast_mode() if fast else None)
    if seed and not state.sellers:
        for seller_id, codes in DEMO_SELLERS:
            state.add_seller(
                seller_id=seller_id,
                marketplace_ids=[MARKETPLACES_BY_CODE[c].marketplace_id for c in codes],
                store_name=f"Acorn demo {seller_id[-2:]}",
            )
    if state_file is not None:
        state.save(state_file)
    server = SandboxServer(state, host=host, port=port, state_file=state_file, log_level="info")
    click.echo(f"SP-API sandbox on {server.url} (LWA token URL {server.token_url})")
    click.echo(
        f"  regions: {server.url}/na  {server.url}/eu  {server.url}/fe;"
        f"  scenario API: {server.url}/_sandbox/docs"
    )
    click.echo(f"  mode: {'fast (rates x100)' if fast else 'production usage plans'}")
    for seller in state.sellers.values():
        live = [rt.token for rt in seller.refresh_tokens if not rt.revoked]
        click.echo(
            "  seller "
            + json.dumps(
                {
                    "seller_id": seller.seller_id,
                    "marketplace_ids": seller.marketplace_ids,
                    "client_id": state.client_id,
                    "client_secret": state.client_secret,
                    "refresh_token": live[-1] if live else None,
                }
            )
        )
    server.serve_forever()
