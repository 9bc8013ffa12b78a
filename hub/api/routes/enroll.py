"""``POST /api/v1/enroll``: a box trades a one-time code for its configuration and credentials.

The one API route without a bearer token, by design: the enrollment code is the
credential. Attempts are limited per client address and per code prefix (the
first four symbols), so guessing codes is slow, and a code works once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker

from hub.api.deps import NowDep, SettingsDep
from hub.broker_credentials import BrokerCredentials, ca_pem
from hub.config import ConfigError, HubSettings
from hub.db.provisioning import EnrollmentError, enrollment_response, redeem_code
from provisioning import secretbox
from provisioning.broker import BrokerFilesError
from provisioning.messages import ENROLL_PATH, EnrollRequest
from provisioning.ratelimit import AttemptLimiter

_LOGGER = logging.getLogger(__name__)
router = APIRouter(tags=["provisioning"])
_STATUS = {"typo": 422, "unknown": 403, "used": 410, "expired": 410, "revoked": 410}
_INIT_LOCK = threading.Lock()


@dataclass
class _EnrollState:
    per_ip: AttemptLimiter
    per_prefix: AttemptLimiter
    credentials: BrokerCredentials


def _state(request: Request, settings: HubSettings) -> _EnrollState:
    with _INIT_LOCK:
        state: _EnrollState | None = getattr(request.app.state, "enroll", None)
        if state is None:
            state = _EnrollState(
                AttemptLimiter(settings.enroll_attempts_per_ip, settings.enroll_window_s),
                AttemptLimiter(settings.enroll_attempts_per_prefix, settings.enroll_window_s),
                BrokerCredentials(settings),
            )
            request.app.state.enroll = state
        return state


def _refuse(status: int, detail: str, code: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after is not None else None
    return JSONResponse({"detail": detail, "code": code}, status_code=status, headers=headers)


@router.post(ENROLL_PATH)
def enroll(
    body: EnrollRequest, request: Request, settings: SettingsDep, now: NowDep
) -> JSONResponse:
    """Redeem an enrollment code: store config, broker credentials, catalog and stock."""
    state = _state(request, settings)
    address = request.client.host if request.client else "unknown"
    prefix = "".join(ch for ch in body.code.upper() if ch.isalnum())[:4]
    clock = time.monotonic()
    wait = state.per_ip.retry_after(address, clock)
    if wait is None:
        wait = state.per_prefix.retry_after(prefix, clock)
    if wait is not None:
        _LOGGER.warning("enrollment attempts from %s limited (prefix %s)", address, prefix)
        return _refuse(
            429,
            f"too many enrollment attempts: wait {max(1, round(wait))} s, then check the code "
            "and try again",
            "rate_limited",
            wait,
        )
    state.per_ip.record(address, clock)
    if settings.secrets_key is None:
        return _refuse(
            503, "the hub is not set up for enrollment: ACORN_HUB_SECRETS_KEY is not set", "setup"
        )
    key = settings.secrets_key.get_secret_value()
    sessions: sessionmaker[Session] = request.app.state.sessions
    try:
        with sessions.begin() as session:
            redeemed = redeem_code(
                session,
                body.code,
                pepper=secretbox.code_pepper(key),
                now=now,
                used_by=body.hostname or address,
            )
            response = enrollment_response(
                session,
                redeemed,
                broker_host=settings.broker_public_host or settings.mqtt_host,
                broker_port=settings.broker_public_port
                or (8883 if settings.broker_ca_file else settings.mqtt_port),
                ca_pem=ca_pem(settings),
                hub_url=settings.public_url or str(request.base_url).rstrip("/"),
                now=now,
            )
            # Inside the transaction: if the broker's files cannot be written, nothing is used up.
            state.credentials.sync(session)
    except EnrollmentError as err:
        if err.code in ("unknown", "typo"):
            state.per_prefix.record(prefix, clock)
        _LOGGER.warning("enrollment refused from %s: %s", address, err.code)
        return _refuse(_STATUS.get(err.code, 422), str(err), err.code)
    except (BrokerFilesError, ConfigError, secretbox.SecretKeyError) as err:
        _LOGGER.error("enrollment failed: %s", err)
        return _refuse(
            503, "the hub could not set up the broker account; try again in a minute", "broker"
        )
    _LOGGER.info("store %s enrolled from %s (%s)", redeemed.store_id, address, body.hostname)
    return JSONResponse(response.model_dump(mode="json"))
