"""The published SP-API models as data: usage plans, static sandbox cases and JSON schemas.

The model files in ``models/`` are unmodified copies of amzn/selling-partner-api-models
(see ``models/SOURCE.md``). The sandbox reads its rate limits from their "Usage Plan"
tables, so a model update changes the sandbox with it.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

from hub.channels.amazon.usage_plans import API_MODELS, UsagePlan

_PLAN_ROW = re.compile(r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|")
_HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# Amazon's static sandbox answers a canned response when the request carries the
# case's parameter values. Only cases keyed by sentinel values are served here, so
# that real-looking requests always reach the stateful emulation.
_SENTINELS = frozenset(
    {
        "BadSKU",
        "VALIDATION_VALID",
        "VALIDATION_INVALID",
        "badFeedId1",
        "badDocumentId1",
        "badReportId1",
        "BADID1",
    }
)


@functools.cache
def load_model(file_name: str) -> dict[str, Any]:
    """Parse one model file from the package (cached)."""
    text = (
        resources.files("hub.channels.amazon.sandbox.models")
        .joinpath(file_name)
        .read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def operations(api: str) -> dict[str, dict[str, Any]]:
    """Operation objects of one API keyed by operationId, with ``_method`` and ``_path`` added."""
    model = load_model(API_MODELS[api])
    found: dict[str, dict[str, Any]] = {}
    for path, item in model["paths"].items():
        for method in _HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict) and "operationId" in op:
                found[op["operationId"]] = {**op, "_method": method.upper(), "_path": path}
    return found


@functools.cache
def usage_plans() -> dict[str, UsagePlan]:
    """Every operation's default usage plan, read from the model descriptions."""
    plans: dict[str, UsagePlan] = {}
    for api in API_MODELS:
        for op_id, op in operations(api).items():
            match = _PLAN_ROW.search(op.get("description", ""))
            if match:
                plans[f"{api}/{op_id}"] = UsagePlan(float(match.group(1)), int(match.group(2)))
    return plans


def _is_sentinel(value: object) -> bool:
    if isinstance(value, str):
        return value.startswith("TEST_CASE_") or value in _SENTINELS
    if isinstance(value, list):
        return any(_is_sentinel(v) for v in value)
    return False


@functools.cache
def _static_cases(api: str, operation_id: str) -> tuple[tuple[int, dict[str, Any], Any], ...]:
    op = operations(api).get(operation_id)
    if op is None:
        return ()
    cases: list[tuple[int, dict[str, Any], Any]] = []
    for status, response in op["responses"].items():
        for case in response.get("x-amzn-api-sandbox", {}).get("static", []):
            params = {k: v.get("value") for k, v in case["request"]["parameters"].items()}
            if any(_is_sentinel(v) for v in params.values()):
                cases.append((int(status), params, case.get("response")))
    return tuple(cases)


def _matches(expected: object, actual: object) -> bool:
    if isinstance(expected, list):
        values = actual if isinstance(actual, list) else str(actual or "").split(",")
        return [str(v) for v in expected] == [str(v) for v in values]
    return str(expected) == str(actual)


def static_case(api: str, operation_id: str, params: dict[str, object]) -> tuple[int, Any] | None:
    """Amazon's canned (status, body) for a request carrying a sentinel value, if any."""
    for status, expected, body in _static_cases(api, operation_id):
        if all(k in params and _matches(v, params[k]) for k, v in expected.items()):
            return status, body
    return None


def definitions_schema(file_name: str, definition: str) -> dict[str, Any]:
    """A JSON Schema for ``#/definitions/<definition>`` with the model's definitions attached.

    Swagger 2.0 definitions are JSON Schema draft 4 subsets; attaching them under
    ``definitions`` lets ``$ref: #/definitions/...`` resolve inside the schema.
    """
    model = load_model(file_name)
    return {"$ref": f"#/definitions/{definition}", "definitions": model["definitions"]}


def response_schema(api: str, operation_id: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema of one documented response, or None when it has no body."""
    op = operations(api)[operation_id]
    response = op["responses"].get(str(status))
    if response is None or "schema" not in response:
        return None
    model = load_model(API_MODELS[api])
    return {**response["schema"], "definitions": model["definitions"]}
