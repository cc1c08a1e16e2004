"""Operational metrics for ``pulse serve``: Prometheus counters and histograms on one private registry.

    >>> m = Metrics()
    >>> m.requests.labels(route="/healthz", status="200").inc()
    >>> b"pulse_requests_total" in m.render()
    True

``GET /metrics`` serves :meth:`Metrics.render`. What it leaves out: push
gateways and tracing (scrape ``/metrics`` with any Prometheus-compatible agent).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]

_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160)


class Metrics:
    def __init__(self):
        self.registry = r = CollectorRegistry()
        self.requests = Counter("pulse_requests", "HTTP requests by route and status.", ["route", "status"], registry=r)
        self.latency = Histogram(
            "pulse_request_seconds", "HTTP request latency by route.", ["route"], buckets=_BUCKETS, registry=r
        )
        self.turns = Counter("pulse_turns", "Agent turns by channel.", ["channel"], registry=r)
        self.turn_seconds = Histogram(
            "pulse_turn_seconds", "Agent turn latency by channel (queueing included).", ["channel"], buckets=_BUCKETS, registry=r
        )
        self.tool_calls = Counter("pulse_tool_calls", "Tool calls by tool and outcome.", ["tool", "outcome"], registry=r)
        self.errors = Counter("pulse_errors", "Errors by where they happened.", ["where"], registry=r)
        self.cancelled = Counter(
            "pulse_turns_cancelled", "Turns stopped because the listener left, by channel.", ["channel"], registry=r
        )
        self.waiting = Gauge("pulse_turns_waiting", "Turns queued for the local model.", registry=r)
        self.handoffs = Counter("pulse_handoffs", "Support conversations handed to a person, by reason.", ["reason"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
