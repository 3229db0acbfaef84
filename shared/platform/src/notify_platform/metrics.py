"""Prometheus metrics shared by every service; each process serves them at ``/metrics``.

Names: ``notify_`` prefix, ``_total`` counters, ``_seconds`` histograms. Labels are always from small fixed sets
(route templates, event types, queue names, provider names, fixed outcome words), never ids or raw paths.
docs/architecture.md ("Metrics") lists them.
"""

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram

# --- HTTP (runtime.RequestMiddleware) ----------------------------------------------------------------------
HTTP_REQUESTS = Histogram(
    "notify_http_request_seconds",
    "HTTP request latency by route template (unmatched: no route), method and status",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# --- events (broker.Broker, consumer.Consumer) -------------------------------------------------------------
EVENTS_PUBLISHED = Counter(
    "notify_events_published_total",
    "Events published to the exchange and confirmed (a bundle counts its events; outbox rows included)",
    ["event_type"],
)
EVENTS_CONSUMED = Counter("notify_events_consumed_total", "Events handled and acked", ["queue", "event_type"])
EVENTS_FAILED = Counter(
    "notify_events_failed_total",
    "Events whose handler raised (a retry scheduled, or retries exhausted)",
    ["queue", "event_type"],
)
DEAD_LETTER_REASONS = ("undecodable", "unknown_event", "retries_exhausted")
EVENTS_DEAD_LETTERED = Counter(
    "notify_events_dead_lettered_total",
    "Events sent to a dead-letter queue, by reason (undecodable, unknown_event, retries_exhausted)",
    ["queue", "reason"],
)

# --- outbox (outbox.OutboxRelay) ---------------------------------------------------------------------------
OUTBOX_RELAYED = Counter("notify_outbox_relayed_total", "Outbox rows published with confirms")
OUTBOX_OLDEST_SECONDS = Gauge(
    "notify_outbox_oldest_seconds", "Age of the oldest unpublished outbox row (0 when the outbox is empty)"
)
OUTBOX_PENDING = Gauge("notify_outbox_pending", "Outbox rows waiting to be published")

# --- providers (delivery services' adapters) ---------------------------------------------------------------
PROVIDER_OUTCOMES = ("ok", "rejected", "error", "timeout")
PROVIDER_CALLS = Counter(
    "notify_provider_calls_total",
    "Calls to a delivery provider by outcome: ok, rejected (refused for good), error (may succeed if retried), "
    "timeout",
    ["provider", "outcome"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "notify_provider_call_seconds",
    "Delivery provider call latency",
    ["provider"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)


def provider_outcome(*, retryable: bool, timed_out: bool) -> str:
    """How a provider adapter's error is counted: timeout, error (may succeed if retried) or rejected (for good)."""
    if timed_out:
        return "timeout"
    return "error" if retryable else "rejected"


class ProviderCallMetrics:
    """The provider metrics of one provider, label children bound once (a send does no label lookup)."""

    __slots__ = ("_calls", "_seconds")

    def __init__(self, provider: str) -> None:
        self._calls = {outcome: PROVIDER_CALLS.labels(provider, outcome) for outcome in PROVIDER_OUTCOMES}
        self._seconds = PROVIDER_CALL_SECONDS.labels(provider)

    def observe(self, outcome: str, seconds: float) -> None:
        self._calls[outcome].inc()
        self._seconds.observe(seconds)

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """Times and counts the call in the block: ``ok``, or the raised error's ``outcome`` (an adapter's error
        classes carry one); anything else is a fault of ours, counted as ``error``."""
        started = time.perf_counter()
        outcome = "error"
        try:
            yield
            outcome = "ok"
        except Exception as exc:
            outcome = getattr(exc, "outcome", "error")
            raise
        finally:
            self.observe(outcome, time.perf_counter() - started)


# --- callbacks (services/notifications) --------------------------------------------------------------------
CALLBACKS_SENT = Counter(
    "notify_callbacks_total",
    "Service callback attempts by type and outcome (delivered, pending: retry scheduled, failed, exhausted)",
    ["callback_type", "outcome"],
)
