"""``acorn sandbox amazon`` as a real process: serves, seeds demo sellers, keeps its snapshot."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.fixtures.util import (
    die_with_parent,
    free_port,
    register_process,
    stop_process,
    unregister,
    wait_port,
)


def start(state_file: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "acorn.cli",
        "sandbox",
        "amazon",
        "--port",
        str(port),
        "--state-file",
        str(state_file),
        "--fast",
    ]
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        die_with_parent(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    register_process(proc, f"acorn sandbox amazon on {port}")
    wait_port("127.0.0.1", port)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> str:
    stop_process(proc)
    unregister(proc)
    assert proc.stdout is not None
    return proc.stdout.read().decode()


def test_sandbox_command_serves_seeds_and_restores_its_state(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    port = free_port()
    proc = start(state_file, port)
    try:
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/_sandbox/health").json()["ok"] is True
        settings = httpx.get(f"{url}/_sandbox/settings").json()
        assert settings["rate_scale"] == 100.0
        httpx.post(
            f"{url}/_sandbox/sellers/ACORNDEMONA/orders", json={"count": 2}
        ).raise_for_status()
    finally:
        output = stop(proc)
    assert f"SP-API sandbox on http://127.0.0.1:{port}" in output
    sellers = [
        json.loads(line.split("seller ", 1)[1])
        for line in output.splitlines()
        if "  seller {" in line
    ]
    assert [s["seller_id"] for s in sellers] == ["ACORNDEMONA", "ACORNDEMOEU", "ACORNDEMOFE"]
    assert all(re.match(r"Atzr\|", s["refresh_token"]) for s in sellers)
    snapshot = json.loads(state_file.read_text())
    assert len(snapshot["orders"]) == 2

    port = free_port()
    proc = start(state_file, port)
    try:
        orders = httpx.get(f"http://127.0.0.1:{port}/_sandbox/sellers/ACORNDEMONA/orders").json()[
            "orders"
        ]
        assert len(orders) == 2
        token = httpx.post(
            f"http://127.0.0.1:{port}/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": sellers[0]["refresh_token"],
                "client_id": sellers[0]["client_id"],
                "client_secret": sellers[0]["client_secret"],
            },
        )
        assert token.status_code == 200
    finally:
        stop(proc)
