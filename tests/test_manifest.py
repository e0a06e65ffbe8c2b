"""manifest.yml, Dockerfile and docker-compose.yml: what Slack and Docker read, checked."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
LISTENERS = ROOT / "app" / "slack" / "listeners"

# The bot scope each subscribed event needs (Slack rejects a manifest otherwise).
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
}
# Bolt's `message` listeners receive these manifest events.
MESSAGE_EVENTS = {"message.channels", "message.groups", "message.im"}


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def _listener_registrations() -> tuple[set[str], set[str]]:
    """(event types, slash commands) the listener modules register, read from their source."""
    events: set[str] = set()
    commands: set[str] = set()
    for path in LISTENERS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            kind = node.func.attr
            arg = node.args[0] if node.args else None
            value = arg.value if isinstance(arg, ast.Constant) else None
            if isinstance(arg, ast.Dict):  # app.event({"type": "message", "subtype": ...})
                pairs = zip(arg.keys, arg.values, strict=True)
                value = next((v.value for k, v in pairs if getattr(k, "value", None) == "type"
                              and isinstance(v, ast.Constant)), None)  # fmt: skip
            if kind == "event" and isinstance(value, str):
                events.add(value)
            elif kind == "message":
                events.add("message")
            elif kind == "command" and isinstance(value, str):
                commands.add(value)
    return events, commands


class TestSlackManifest:
    def test_declares_the_papers_command_unescaped_with_help(self):
        [command] = _load("manifest.yml")["features"]["slash_commands"]
        assert command["command"] == "/papers"
        assert command["should_escape"] is False
        assert command["description"] and len(command["description"]) <= 100
        assert "help" in command["usage_hint"]

    def test_subscribes_to_every_event_the_listeners_handle(self):
        subscribed = set(_load("manifest.yml")["settings"]["event_subscriptions"]["bot_events"])
        handled, _ = _listener_registrations()
        for event in handled:
            if event == "message":
                assert subscribed >= MESSAGE_EVENTS
            else:
                assert event in subscribed, f"listeners handle {event} but Slack won't send it"

    def test_every_command_the_listeners_handle_is_declared(self):
        declared = {c["command"] for c in _load("manifest.yml")["features"]["slash_commands"]}
        _, handled = _listener_registrations()
        assert handled <= declared

    def test_asks_exactly_for_the_scopes_its_events_and_posts_need(self):
        manifest = _load("manifest.yml")
        scopes = set(manifest["oauth_config"]["scopes"]["bot"])
        events = manifest["settings"]["event_subscriptions"]["bot_events"]
        needed = {EVENT_SCOPES[e] for e in events} | {"chat:write", "chat:write.public", "commands"}
        # users:read: names of people in saved lists and answers; channels:read and groups:read:
        # a channel given as #name (conversations.list); nothing else beyond events.
        assert scopes == needed | {"users:read", "channels:read", "groups:read"}
        assert set(events) == set(EVENT_SCOPES)

    def test_socket_mode_and_interactivity_are_on(self):
        settings = _load("manifest.yml")["settings"]
        assert settings["socket_mode_enabled"] is True
        assert settings["interactivity"]["is_enabled"] is True
        assert _load("manifest.yml")["features"]["bot_user"]["display_name"]


class TestDockerCompose:
    def test_app_starts_after_migrations_on_a_healthy_database(self):
        services = _load("docker-compose.yml")["services"]
        assert set(services) == {"db", "migrate", "app"}

        db = services["db"]
        assert db["image"].startswith("pgvector/pgvector:pg18")
        assert "pg_isready" in " ".join(db["healthcheck"]["test"])
        assert any(str(v).endswith("/var/lib/postgresql") for v in db["volumes"])

        migrate = services["migrate"]
        assert migrate["command"] == ["paperboy", "db", "upgrade"]
        assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
        assert migrate.get("restart", "no") == "no"

        app = services["app"]
        assert app["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert "/healthz" in " ".join(app["healthcheck"]["test"])
        assert any(str(p).endswith("3000") for p in app["ports"])

    def test_app_and_migrate_use_the_compose_database(self):
        services = _load("docker-compose.yml")["services"]
        for name in ("migrate", "app"):
            env = services[name]["environment"]
            assert env["DATABASE_URL"].startswith("postgresql://")
            assert "@db:5432/" in env["DATABASE_URL"]
            assert services[name]["env_file"][0]["path"] == ".env"

    def test_image_runs_paperboy_serve_as_a_non_root_user(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        lines = [line.strip() for line in dockerfile.splitlines()]
        assert [line for line in lines if line.startswith("FROM ")] == [
            "FROM python:${PYTHON_VERSION}-slim"
        ]
        users = [line for line in lines if line.startswith("USER ")]
        assert users and users[-1] not in ("USER root", "USER 0")
        assert lines[[i for i, line in enumerate(lines) if line][-1]] == 'CMD ["paperboy", "serve"]'

    def test_image_installs_the_lock_then_paperboy_itself_not_editable(self):
        dockerfile = (ROOT / "Dockerfile").read_text()
        runs = [" ".join(step.split()) for step in dockerfile.replace("\\\n", " ").splitlines()]
        lock = runs.index("RUN pip install --require-hashes -r requirements.lock")
        (package,) = [i for i, step in enumerate(runs) if "pip install --no-deps" in step]
        first_source = next(i for i, step in enumerate(runs) if step.startswith("COPY app "))
        # The dependency layer comes before any source, so a code change doesn't reinstall it.
        assert lock < first_source < package
        assert " -e " not in runs[package] and "--editable" not in runs[package]
