"""docs/protocol.md: every example parses through the real decoders, and every model has one.

An example is a fenced ``json`` block preceded by a line ``**Model:** `Name` ``
(it must decode to that model) or ``**Rejected:** `reason` `` (it must be
refused with that reason when it arrives on ``up/events`` of store s-012).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from protocol import topics
from protocol.codec import (
    DecodedEvent,
    RejectedEvent,
    decode_down,
    decode_event_batch,
    decode_hub_status,
    decode_status,
)
from protocol.errors import ERROR_REASONS
from protocol.messages import DOWN_MESSAGES, EVENT_BODIES

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
MARKER = re.compile(r"^\*\*(Model|Rejected):\*\* `([^`]+)`")
TOP_LEVEL = {"StatusMessage", "HubStatus", "list[Envelope]"} | {
    model.__name__ for model in DOWN_MESSAGES.values()
}
CHANNEL_OF = {model.__name__: channel for channel, model in DOWN_MESSAGES.items()}


@dataclass(frozen=True)
class Example:
    """One fenced JSON example of the doc and the marker above it."""

    kind: str  # "Model" or "Rejected"
    name: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}@{self.line}"


def _examples() -> list[Example]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    marker: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        found = MARKER.match(line)
        if found:
            marker = (found.group(1), found.group(2))
        elif line.startswith("```json"):
            assert marker is not None, f"docs/protocol.md:{i + 1}: json example without a marker"
            end = lines.index("```", i + 1)
            examples.append(Example(marker[0], marker[1], i + 1, "\n".join(lines[i + 1 : end])))
            marker = None
            i = end
        elif line.strip() and marker is not None and not line.startswith("```"):
            pytest.fail(f"docs/protocol.md:{i + 1}: text between a marker and its example")
        i += 1
    return examples


EXAMPLES = _examples()


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= len(EVENT_BODIES) + len(TOP_LEVEL)


def test_every_model_has_an_example() -> None:
    named = {e.name for e in EXAMPLES if e.kind == "Model"}
    expected = {model.__name__ for model in EVENT_BODIES.values()} | TOP_LEVEL
    assert expected - named == set(), "models without an example in docs/protocol.md"
    assert named - expected == set(), "examples naming no known model"


def test_every_error_reason_is_in_the_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    for reason, cls in ERROR_REASONS.items():
        assert re.search(rf"^\| `{reason}` \| `{cls.__name__}` \|", text, re.MULTILINE), reason


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_decodes(example: Example) -> None:
    payload = example.text.encode("utf-8")
    data = json.loads(payload)
    if example.kind == "Rejected":
        results = decode_event_batch(topics.up_events("s-012"), payload)
        assert [type(r) for r in results] == [RejectedEvent]
        assert isinstance(results[0], RejectedEvent)
        assert results[0].reason == example.name
        assert example.name in ERROR_REASONS
        return

    if example.name == "list[Envelope]":
        store = data[0]["store"]
        results = decode_event_batch(topics.up_events(store), payload)
        assert len(results) == len(data) > 1
        assert all(isinstance(r, DecodedEvent) for r in results), results
    elif example.name in {model.__name__ for model in EVENT_BODIES.values()}:
        results = decode_event_batch(topics.up_events(data["store"]), payload)
        assert len(results) == 1
        (result,) = results
        assert isinstance(result, DecodedEvent), result
        assert type(result.body).__name__ == example.name
        assert type(result.body) is EVENT_BODIES[data["type"]]
    elif example.name == "StatusMessage":
        message = decode_status(topics.up_status(data["store"]), payload)
        assert type(message).__name__ == example.name
    elif example.name == "HubStatus":
        assert type(decode_hub_status(payload)).__name__ == example.name
    else:
        topic = f"{topics.TOPIC_ROOT}/store/{data['store']}/down/{CHANNEL_OF[example.name]}"
        assert type(decode_down(topic, payload)).__name__ == example.name
