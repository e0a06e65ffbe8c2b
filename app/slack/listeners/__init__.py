"""Bolt listeners, one module per Slack surface, each with `register(app, services)`.

commands.py (`/papers`), events.py (messages, mentions, reactions), actions.py (buttons) and
views.py (modals): `SURFACES` is the explicit list `register_listeners` walks, in order.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import App

from app.slack.listeners import actions, commands, events, views
from app.slack.services import Services

SURFACES: list[tuple[str, Callable[[App, Services], None]]] = [
    ("commands", commands.register),
    ("events", events.register),
    ("actions", actions.register),
    ("views", views.register),
]


def register_listeners(app: App, services: Services) -> list[str]:
    """Register every surface's listeners on `app`; returns the surfaces registered."""
    for _, register in SURFACES:
        register(app, services)
    return [name for name, _ in SURFACES]
