"""A channel as people type it: ids, the links they copy, mentions and #names (looked up in the
fake Slack's conversations.list, page by page); everything else refused with how to find an id."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient

from app.channel_ids import ChannelRef, channel_id, parse_channel
from app.errors import UserInputError
from app.slack.channels import resolve_channel


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("C0123456789", "C0123456789"),
        ("  G01234567  ", "G01234567"),
        ("D0123456789A", "D0123456789A"),
        ("https://team.slack.com/archives/C0123456789", "C0123456789"),
        ("https://team.slack.com/archives/C0123456789/", "C0123456789"),
        ("https://team.slack.com/archives/C0123456789/p1712345678901234", "C0123456789"),
        (
            "https://app.slack.com/archives/C0123456789/p1712345678901234?thread_ts=1.2",
            "C0123456789",
        ),
        ("<#C0123456789|general>", "C0123456789"),
        ("<#C0123456789>", "C0123456789"),
    ],
)
def test_ids_links_and_mentions_give_the_channel_id(typed: str, expected: str) -> None:
    assert channel_id(typed) == expected


@pytest.mark.parametrize("typed", ["#general", "general", "#ML-papers", "team_news"])
def test_names_are_left_to_look_up(typed: str) -> None:
    assert parse_channel(typed) == ChannelRef(name=typed.removeprefix("#").lower())


@pytest.mark.parametrize(
    "typed",
    [
        "C123",
        "C0123456789ABCDEF",
        "X0123456789",
        "https://example.com/archives/C0123456789",
        "https://team.slack.com/messages/C0123456789",
        "https://team.slack.com/archives/C12",
        "<#C12|general>",
        "two words",
        "#",
        "",
        "C0123'; DROP TABLE channels; --",
        "general!",
    ],
)
def test_anything_else_is_one_line_saying_how_to_find_an_id(typed: str) -> None:
    with pytest.raises(UserInputError) as caught:
        resolve_channel(None, typed)
    message = str(caught.value)
    assert "\n" not in message
    assert "bottom of the About tab" in message and "Copy link" in message


def test_a_name_needs_a_token_to_be_looked_up() -> None:
    with pytest.raises(UserInputError, match="needs SLACK_BOT_TOKEN"):
        resolve_channel(None, "#general")


@pytest.fixture
def client(slack_fake: Any) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack_fake.url)


class TestLookUpByName:
    def test_finds_a_channel_on_a_later_page(self, slack_fake: Any, client: WebClient) -> None:
        for i in range(450):
            slack_fake.add_channel(f"C{i:010d}", f"channel-{i}")
        slack_fake.add_channel("C0PAPERS099", "ml-papers")
        assert resolve_channel(client, "#ML-papers") == "C0PAPERS099"
        calls = slack_fake.calls_to("conversations.list")
        assert len(calls) == 3  # 200 a page, cursors followed
        assert calls[0].args["types"] == "public_channel,private_channel"
        assert calls[1].args["cursor"]

    def test_a_private_channel_is_found_once_paperboy_is_invited(
        self, slack_fake: Any, client: WebClient
    ) -> None:
        slack_fake.add_channel("G0SECRET01", "secret", is_private=True, is_member=False)
        with pytest.raises(UserInputError, match=r"no channel named #secret.*/invite @Paperboy"):
            resolve_channel(client, "secret")
        slack_fake.add_channel("G0SECRET01", "secret", is_private=True, is_member=True)
        assert resolve_channel(client, "secret") == "G0SECRET01"

    def test_a_missing_scope_says_which_scopes_to_add(
        self, slack_fake: Any, client: WebClient
    ) -> None:
        slack_fake.error_next("conversations.list", "missing_scope")
        with pytest.raises(UserInputError, match="channels:read and groups:read"):
            resolve_channel(client, "#general")
