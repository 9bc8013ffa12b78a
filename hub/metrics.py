"""A small Prometheus text-format registry (counters and gauges with labels), thread-safe."""

from __future__ import annotations

import threading
from collections.abc import Iterable

LabelKey = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(key: LabelKey) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in key) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metric:
    """One metric family: name, help, type and a value per label set."""

    def __init__(self, name: str, help_text: str, kind: str) -> None:
        self.name = name
        self.help = help_text
        self.kind = kind
        self._values: dict[LabelKey, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the value for ``labels``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def set(self, value: float, **labels: str) -> None:
        """Set the value for ``labels`` (gauges)."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = value

    def value(self, **labels: str) -> float:
        """The current value for ``labels`` (0 when never set)."""
        with self._lock:
            return self._values.get(tuple(sorted(labels.items())), 0.0)

    def render(self) -> Iterable[str]:
        """Lines of the text exposition format."""
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        with self._lock:
            items = sorted(self._values.items())
        if not items and self.kind == "counter":
            items = [((), 0.0)]
        for key, value in items:
            yield f"{self.name}{_labels(key)} {_number(value)}"


class Registry:
    """The metrics of one hub process."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str) -> Metric:
        """Get or create a counter."""
        return self._get(name, help_text, "counter")

    def gauge(self, name: str, help_text: str) -> Metric:
        """Get or create a gauge."""
        return self._get(name, help_text, "gauge")

    def _get(self, name: str, help_text: str, kind: str) -> Metric:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = self._metrics[name] = Metric(name, help_text, kind)
            return metric

    def render(self, extra: Iterable[Metric] = ()) -> str:
        """The whole registry (plus ``extra`` families computed at scrape time) as text."""
        with self._lock:
            metrics = list(self._metrics.values())
        lines: list[str] = []
        for metric in [*metrics, *extra]:
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


class IngestMetrics:
    """The ingest worker's counters."""

    def __init__(self, registry: Registry) -> None:
        self.messages = registry.counter(
            "acorn_hub_ingest_messages_total", "MQTT messages received by the ingest worker"
        )
        self.applied = registry.counter(
            "acorn_hub_ingest_events_applied_total", "Events applied to the ledger, per store"
        )
        self.duplicates = registry.counter(
            "acorn_hub_ingest_duplicates_total", "Events received again and skipped (exactly once)"
        )
        self.dead_letters = registry.counter(
            "acorn_hub_dead_letters_total", "Messages or events dead-lettered, per reason"
        )
        self.batches = registry.counter("acorn_hub_ingest_batches_total", "Batches committed")
        self.batch_seconds = registry.counter(
            "acorn_hub_ingest_batch_seconds_total", "Time spent applying batches"
        )
        self.connected = registry.gauge(
            "acorn_hub_mqtt_connected", "1 while the ingest worker is connected to the broker"
        )
        self.leader = registry.gauge(
            "acorn_hub_scheduler_leader", "1 while this worker holds the scheduler lease"
        )
