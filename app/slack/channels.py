"""A channel someone typed, as a channel id: ids, links and mentions parse (app/channel_ids.py);
`#name` is looked up with conversations.list, which needs the channels:read and groups:read
scopes (manifest.yml). Private channels are listed only once Paperboy has been invited."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.channel_ids import HOW_TO_FIND, parse_channel
from app.errors import UserInputError

PAGE_SIZE = 200  # Slack's advice: at most 200 per page for conversations.list
MAX_PAGES = 100  # a workspace with more than 20 000 channels: give the id instead


def resolve_channel(client: WebClient | None, text: str | None) -> str:
    """The channel id for an id, link, mention or `#name`; UserInputError (one line) otherwise.

    `client` None (no SLACK_BOT_TOKEN): names cannot be looked up, so only ids, links and
    mentions work.
    """
    ref = parse_channel(text)
    if ref.id is not None:
        return ref.id
    assert ref.name is not None
    if client is None or not client.token:
        raise UserInputError(
            f"looking up #{ref.name} needs SLACK_BOT_TOKEN; give the channel id instead: "
            f"{HOW_TO_FIND}"
        )
    found = find_channel_id(client, name=ref.name)
    if found is None:
        raise UserInputError(
            f"Paperboy sees no channel named #{ref.name} (a private channel needs "
            f"`/invite @Paperboy` first); {HOW_TO_FIND}"
        )
    return found


def find_channel_id(client: WebClient, *, name: str) -> str | None:
    """The id of the channel called `name` among those the bot can see, following cursors."""
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = client.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
            for channel in page.get("channels") or []:
                if name in (channel.get("name"), channel.get("name_normalized")):
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error")
        hint = (
            "add the channels:read and groups:read scopes (manifest.yml) and reinstall the app"
            if error == "missing_scope"
            else "check SLACK_BOT_TOKEN"
        )
        raise UserInputError(
            f"Slack would not list channels ({error}): {hint}, or give the channel id; "
            f"{HOW_TO_FIND}"
        ) from None
    except OSError as exc:  # URLError and friends: Slack unreachable
        raise UserInputError(
            f"cannot reach Slack to look up #{name} ({exc}); give the channel id instead"
        ) from None
    return None
