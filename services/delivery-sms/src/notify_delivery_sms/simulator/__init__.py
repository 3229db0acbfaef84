"""SMS provider simulator: ``python -m notify_delivery_sms.simulator --flavour mmg --port 6021``."""

from __future__ import annotations

from .app import create_app, outcome_for
from .cli import main
from .settings import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app", "main", "outcome_for"]
