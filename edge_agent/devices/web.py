"""HTTP face of the devices for the cashier UI (a Flask blueprint the app registers).

- ``GET  /api/devices/scans/stream``          server-sent events: ``scan``, ``printer``, ``scanner``
- ``POST /api/devices/scans``                 the keyboard-wedge field posts ``{"code": ...}``
- ``GET  /api/devices/status``                printer (online, paper, cover, queue) and scanner
- ``GET  /api/devices/print/<job_id>``        one print job's state
- ``POST /api/devices/print/<job_id>/reprint`` print again (``Idempotency-Key`` header honoured)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Final

from flask import Blueprint, Response, jsonify, request, stream_with_context

from edge_agent.devices.errors import PrintJobError
from edge_agent.devices.manager import DeviceManager
from edge_agent.devices.scanner import BusEvent

_LOGGER = logging.getLogger(__name__)

KEEPALIVE_S: Final = 15.0
RETRY_MS: Final = 2000


def _sse(event: BusEvent) -> str:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.seq}\nevent: {event.type}\ndata: {data}\n\n"


def create_devices_blueprint(
    manager: DeviceManager, *, keepalive_s: float = KEEPALIVE_S
) -> Blueprint:
    """Return the blueprint serving ``/api/devices/...`` for one DeviceManager."""
    bp = Blueprint("devices", __name__, url_prefix="/api/devices")

    @bp.get("/scans/stream")
    def scan_stream() -> Response:
        last_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
        after = int(last_id) if last_id and last_id.isdigit() else None
        sub = manager.bus.subscribe(after_seq=after)

        def events() -> Iterator[str]:
            try:
                # Tell the page where things stand right away, then stream.
                yield f"retry: {RETRY_MS}\n"
                yield _sse(BusEvent(0, "status", manager.status()))
                while True:
                    event = sub.get(keepalive_s)
                    if event is None:
                        yield ": keepalive\n\n"
                        continue
                    yield _sse(event)
            finally:
                manager.bus.unsubscribe(sub)

        return Response(
            stream_with_context(events()),
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @bp.post("/scans")
    def wedge_scan() -> tuple[Response, int]:
        body = request.get_json(silent=True) or {}
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str):
            return jsonify(error='send JSON {"code": "<scanned text>"}'), 400
        event = manager.scan_handler.handle(code, source="wedge")
        if event is None:
            return jsonify(outcome="duplicate", message="double scan ignored"), 200
        status = 200 if event.outcome.value == "accepted" else 422
        return jsonify(event.as_dict()), status

    @bp.get("/status")
    def device_status() -> Response:
        return jsonify(manager.status())

    @bp.get("/print/<path:job_id>")
    def print_job(job_id: str) -> tuple[Response, int]:
        info = manager.queue.job(job_id)
        if info is None:
            return jsonify(error=f"no print job {job_id!r}"), 404
        return jsonify(info.as_dict()), 200

    @bp.post("/print/<path:job_id>/reprint")
    def reprint(job_id: str) -> tuple[Response, int]:
        if manager.queue.job(job_id) is None:
            return jsonify(error=f"no print job {job_id!r}"), 404
        key = request.headers.get("Idempotency-Key") or None
        try:
            info = manager.reprint(job_id, request_id=key)
        except PrintJobError as err:
            return jsonify(error=str(err)), 409
        return jsonify(info.as_dict()), 202

    return bp
