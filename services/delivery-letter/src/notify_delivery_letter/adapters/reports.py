"""This service's status reports: the shared builder, with its producer name and outbox table."""

from __future__ import annotations

import functools

from notify_platform.status_reports import StatusReports

from .tables import outbox as outbox_table

PRODUCER = "delivery-letter"

# ``Reports()`` collects the reports of one transaction; ``.write(conn)`` puts them in the outbox.
Reports = functools.partial(StatusReports, PRODUCER, outbox_table)
