"""Prometheus metrics shared by every service; each process serves them at ``/metrics``."""

from prometheus_client import Counter, Histogram

MESSAGES_CONSUMED = Counter("notify_messages_consumed_total", "Messages handled and acked", ["queue"])
MESSAGES_RETRIED = Counter("notify_messages_retried_total", "Messages sent to a delay queue", ["queue"])
MESSAGES_DEAD_LETTERED = Counter("notify_messages_dead_lettered_total", "Messages dead-lettered", ["queue"])
OUTBOX_RELAYED = Counter("notify_outbox_relayed_total", "Outbox rows published with confirms")
HTTP_REQUESTS = Histogram(
    "notify_http_request_seconds", "HTTP request latency", ["route", "method", "status"]
)
CALLBACKS_SENT = Counter(
    "notify_callbacks_total",
    "Service callback attempts by type and outcome (delivered, pending: retry scheduled, failed, exhausted)",
    ["callback_type", "outcome"],
)
