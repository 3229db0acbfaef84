"""Shared runtime for every Notify service: settings, logging, broker, outbox, DB, health, metrics."""
