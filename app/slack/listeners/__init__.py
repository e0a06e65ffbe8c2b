"""Bolt listeners, one module per Slack surface, each with `register(app, services)`.

commands.py (`/papers`), events.py (messages, mentions, reactions), actions.py (buttons) and
views.py (modals) register themselves here; a surface whose module is not there yet is skipped,
so the app still starts (and acks) with whatever exists.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from slack_bolt import App

if TYPE_CHECKING:
    from app.slack.app import Services

log = logging.getLogger(__name__)

SURFACES = ("commands", "events", "actions", "views")


def register_listeners(app: App, services: Services) -> list[str]:
    """Register every surface's listeners on `app`; returns the surfaces registered."""
    registered = []
    for surface in SURFACES:
        name = f"{__name__}.{surface}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports is missing
                raise
            log.warning("no %s listeners (%s.py not found)", surface, surface)
            continue
        module.register(app, services)
        registered.append(surface)
    return registered
