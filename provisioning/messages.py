"""What crosses the wire at enrollment: the box's request and the hub's answer (pydantic)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_serializer

ENROLL_PATH = "/api/v1/enroll"


class EnrollRequest(BaseModel):
    """The box sends the code a tech typed, and its host name for the audit trail."""

    model_config = ConfigDict(extra="ignore")

    code: str = Field(max_length=32)
    hostname: str = Field(default="", max_length=64)


class StoreConfig(BaseModel):
    """The store as the box needs it: identity, zone, currency, site."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    tz: str
    currency: str
    day_start_minutes: int = 0
    address: str = ""
    lat: float | None = None
    lon: float | None = None


class BrokerAccess(BaseModel):
    """Where and how the box connects to the MQTT broker; the password is shown to no person."""

    model_config = ConfigDict(extra="ignore")

    host: str
    port: int
    tls: bool
    ca_pem: str | None = None
    username: str
    password: SecretStr

    @field_serializer("password", when_used="json")
    def _reveal(self, value: SecretStr) -> str:
        # Serialised only into the enrollment response body; repr() and logs show ******.
        return value.get_secret_value()


class StockLine(BaseModel):
    """Starting on-hand of one SKU at the store."""

    sku: str
    on_hand: int = Field(ge=0)


class EnrollResponse(BaseModel):
    """Everything a blank box needs to start selling."""

    model_config = ConfigDict(extra="ignore")

    store: StoreConfig
    broker: BrokerAccess
    hub_url: str
    hub_ca_pem: str | None = None
    next_seq: int = Field(default=1, ge=1)
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    stock: list[StockLine] = Field(default_factory=list)
