"""The event envelope: who sent an event, its place in the store's sequence, when, and what.

Every event a store publishes on ``up/events`` is an envelope. ``id`` is the
key the hub upserts on; ``seq`` is the store's gap-free sequence number the
hub acks. ``body`` stays a plain JSON object here; the body model for ``type``
is in :data:`protocol.messages.EVENT_BODIES`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from pydantic_core import to_jsonable_python

from protocol import PROTOCOL_VERSION
from protocol.errors import ValidationFailed
from protocol.fields import (
    ProtocolVersion,
    StoreId,
    UtcDatetime,
    WireModel,
    WireUUID,
    describe_validation_error,
)
from protocol.messages import EVENT_BODIES

MessageType = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Envelope(WireModel):
    """One event from a store: version, id, store, seq, type, time and body."""

    v: ProtocolVersion = PROTOCOL_VERSION
    id: WireUUID
    store: StoreId
    seq: Annotated[int, Field(ge=1)]
    type: MessageType
    at: UtcDatetime
    body: dict[str, Any]


def validate_body(message_type: str, body: BaseModel | dict[str, Any]) -> BaseModel:
    """Validate an event body against the model registered for message_type.

    Raises ValidationFailed (fields prefixed with ``body.``) when it does not fit,
    or KeyError when the type is not registered.
    """
    model = EVENT_BODIES[message_type]
    if isinstance(body, BaseModel):
        if not isinstance(body, model):
            raise ValidationFailed(
                f"{message_type} event",
                [f"body: a {type(body).__name__} is not a {message_type} body ({model.__name__})"],
            )
        return body
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise ValidationFailed(
            f"{message_type} event", describe_validation_error(err, prefix="body")
        ) from None


def new_envelope(
    store: str,
    seq: int,
    type: str,  # the wire field's name, as the spec fixes it
    body: BaseModel | dict[str, Any],
    at: datetime | None = None,
) -> Envelope:
    """Wrap an event body in a fresh envelope (new id; ``at`` defaults to now, UTC).

    A body for a registered type is validated first, so an invalid event never
    reaches the outbox; ValidationFailed says which field is wrong. Bodies of
    unregistered types pass through as JSON-ready dicts.
    """
    if type in EVENT_BODIES:
        body_json: dict[str, Any] = validate_body(type, body).model_dump(mode="json")
    elif isinstance(body, BaseModel):
        body_json = body.model_dump(mode="json")
    else:
        body_json = to_jsonable_python(body)
    try:
        return Envelope(
            v=PROTOCOL_VERSION,
            id=uuid4(),
            store=store,
            seq=seq,
            type=type,
            at=at if at is not None else datetime.now(UTC),
            body=body_json,
        )
    except ValidationError as err:
        raise ValidationFailed("envelope", describe_validation_error(err)) from None
