"""Modal submissions: `/papers settings` and a topic's "Edit query".

Input is validated before the ack, so mistakes show next to the field (`response_action:
errors`); the modal closes on a valid submission and the changes are confirmed privately in the
channel.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from app import schedule
from app.channel_ids import is_channel_id
from app.db import channels as channels_db
from app.db.engine import session_scope
from app.errors import UserInputError
from app.safety import escape_untrusted
from app.slack import modals, operations
from app.slack.commands_parse import MAX_TOPIC_CHARS
from app.slack.services import Busy, Services

if TYPE_CHECKING:
    from slack_bolt import App


log = logging.getLogger(__name__)


def settings_errors(form: modals.SettingsForm) -> dict[str, str]:
    """Field -> message for everything wrong in a settings submission (empty when fine)."""
    errors: dict[str, str] = {}
    if not is_channel_id(form.channel_id):  # private_metadata came back altered
        errors["topics"] = "I lost track of this form's channel: open `/papers settings` again."
    try:
        schedule.check_timezone(form.timezone)
    except UserInputError as exc:
        errors["timezone"] = str(exc)
    try:
        schedule.validate(form.cron)
    except UserInputError as exc:
        errors["cron"] = str(exc)
    if (
        not form.max_papers.isdigit()
        or not 1 <= int(form.max_papers) <= channels_db.MAX_PAPERS_LIMIT
    ):
        errors["max_papers"] = f"A number from 1 to {channels_db.MAX_PAPERS_LIMIT}."
    long = [t for t in form.topics if len(t) > MAX_TOPIC_CHARS]
    if long:
        errors["topics"] = f"Topic names are at most {MAX_TOPIC_CHARS} characters."
    if form.style not in channels_db.STYLES:
        errors["style"] = "Choose one of the styles."
    return {k: v[:150] for k, v in errors.items()}


def register(app: App, services: Services) -> None:
    engine = services.engine

    def tell(client: Any, channel_id: str | None, user_id: str, text: str) -> None:
        if channel_id and user_id:
            client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)

    @app.view(modals.SETTINGS_CALLBACK)
    def on_settings(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        form = modals.read_settings(view)
        errors = settings_errors(form)
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()
        user_id = str((body.get("user") or {}).get("id") or "")

        def reply(message: dict[str, Any]) -> None:
            tell(client, form.channel_id, user_id, message.get("text") or "Done.")

        operations.guarded(reply, "settings modal", apply_settings, services, form, reply)

    @app.view(modals.EDIT_QUERY_CALLBACK)
    def on_edit_query(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        topic, query, channel_id = modals.read_edit_query(view)
        if not query:
            ack(response_action="errors", errors={"query": "The query can't be empty."})
            return
        try:
            operations.set_expanded_query(engine, topic=topic, query=query)
        except UserInputError as exc:
            ack(response_action="errors", errors={"query": str(exc)[:150]})
            return
        ack()
        user_id = str((body.get("user") or {}).get("id") or "")
        tell(
            client,
            channel_id,
            user_id,
            f"Saved: *{escape_untrusted(topic)}* is now searched as `{escape_untrusted(query)}`.",
        )


def apply_settings(services: Services, form: modals.SettingsForm, reply: operations.Reply) -> None:
    """Store a settings submission: topics followed/unfollowed, schedule, size, notices, style."""
    engine = services.engine
    with Session(engine) as session:
        before = {t.name for t in channels_db.channel_topics(session, channel_id=form.channel_id)}
    wanted = set(form.topics)
    with session_scope(engine) as session:
        for name in sorted(before - wanted):
            channels_db.unfollow(session, channel_id=form.channel_id, topic_name=name)
        channel = channels_db.update_channel(
            session,
            channel_id=form.channel_id,
            cron=form.cron,
            timezone=form.timezone,
            max_papers=int(form.max_papers),
            quiet_day_notice=form.quiet_day_notice,
            style=form.style,
            **({} if form.recommendations is None else {"recommendations": form.recommendations}),
        )
        stored_cron = channel.cron
    added = sorted(wanted - before)
    removed = sorted(before - wanted)
    parts = [
        f"Settings saved: `{stored_cron}` ({form.timezone}), up to {form.max_papers} papers, "
        f"{form.style} style."
    ]
    if removed:
        parts.append(f"No longer following: {escape_untrusted(', '.join(removed))}.")
    reply({"text": " ".join(parts)})
    for name in added:  # new topics may be expanded by the LLM: off the listener thread
        try:
            services.background(
                operations.guarded,
                reply,
                "settings follow",
                operations.follow_topic,
                services.settings,
                engine,
                llm=services.llm,
                channel_id=form.channel_id,
                topic=name,
                reply=reply,
            )
        except Busy as exc:
            reply({"text": str(exc)})
            break
