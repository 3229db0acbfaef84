"""Print provider simulator: ``python -m notify_delivery_letter.simulator --port 6027``."""

from __future__ import annotations

from .app import create_app, outcome_for
from .settings import PrintSimulatorSettings

__all__ = ["PrintSimulatorSettings", "create_app", "outcome_for"]
