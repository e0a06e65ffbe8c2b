"""`/papers` text -> typed commands, and the one-line message for each kind of bad input."""

from __future__ import annotations

import pytest

from app.errors import UnsafeLinkError, UserInputError
from app.slack.commands_parse import (
    SUBCOMMAND_NAMES,
    DigestNow,
    Follow,
    FollowAuthor,
    Help,
    OpenSettings,
    PaperLookup,
    Related,
    Saved,
    Schedule,
    Search,
    Topics,
    Unfollow,
    UnfollowAuthor,
    help_text,
    parse,
)


class TestCommands:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", Help()),
            ("help", Help()),
            ("topic LLM+search", Search("LLM+search")),
            ("search retrieval   augmented", Search("retrieval augmented")),
            ("LLM+search", Search("LLM+search")),
            ("follow retrieval augmented generation", Follow("retrieval augmented generation")),
            ('follow "agents"', Follow("agents")),
            ("unfollow agents", Unfollow("agents")),
            ("topics", Topics()),
            ("digest now", DigestNow()),
            ("DIGEST NOW", DigestNow()),
            ("settings", OpenSettings()),
            ("saved", Saved()),
            ("saved bibtex", Saved(bibtex=True)),
            ("paper 2210.03629", PaperLookup("2210.03629")),
            ("paper 2210.03629v3", PaperLookup("2210.03629")),
            ("paper arXiv:2210.03629", PaperLookup("2210.03629")),
            ("paper https://arxiv.org/abs/2210.03629v1", PaperLookup("2210.03629")),
            ("paper <https://arxiv.org/pdf/2210.03629.pdf>", PaperLookup("2210.03629")),
            ("paper https://huggingface.co/papers/2210.03629", PaperLookup("2210.03629")),
            ("paper cs/0601001", PaperLookup("cs/0601001")),
            ("2210.03629", PaperLookup("2210.03629")),
            ("https://huggingface.co/papers/2210.03629", PaperLookup("2210.03629")),
        ],
    )
    def test_parses(self, text: str, expected: object) -> None:
        assert parse(text) == expected

    def test_slack_escaping_is_undone_for_search(self) -> None:
        assert parse("topic Q&amp;A &lt;retrieval&gt;") == Search("Q&A <retrieval>")

    def test_help_lists_every_subcommand(self) -> None:
        text = help_text()
        for name in SUBCOMMAND_NAMES:
            assert f"/papers {name}" in text


class TestSchedule:
    def test_weekdays_in_crontab_numbering_mean_monday_to_friday(self) -> None:
        cmd = parse('schedule "0 9 * * 1-5" Europe/Berlin')
        assert cmd == Schedule(
            cron="0 9 * * mon-fri", timezone="Europe/Berlin", typed="0 9 * * 1-5"
        )

    def test_smart_quotes_and_unquoted_forms_are_accepted(self) -> None:
        assert parse("schedule “30 8 * * 1-5” UTC").cron == "30 8 * * mon-fri"  # type: ignore[union-attr]
        cmd = parse("schedule 0 7 * * 0")
        assert isinstance(cmd, Schedule) and cmd.cron == "0 7 * * sun" and cmd.timezone is None

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("schedule", "When should digests post?"),
            ('schedule "0 9 * *" UTC', "5-field cron"),
            ('schedule "0 25 * * 1-5" UTC', "isn't a valid cron expression"),
            ('schedule "0 9 * * 8" UTC', "weekday `8` isn't 0-7"),
            ('schedule "*/5 * * * *" UTC', "more than once an hour"),
            ('schedule "0 9 * * 1-5" Mars/Olympus', "isn't a time zone I know"),
            ('schedule "0 9 * * 1-5', "unbalanced quotes"),
        ],
    )
    def test_bad_schedules_say_what_is_wrong(self, text: str, message: str) -> None:
        with pytest.raises(UserInputError, match=message):
            parse(text)


class TestBadInput:
    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("topic", "What should I search for?"),
            ("search", "What should I search for?"),
            ("follow", "Which topic?"),
            ("unfollow  ", "Which topic?"),
            ("follow " + "x" * 201, "at most 200 characters"),
            ("digest", "Did you mean `/papers digest now`?"),
            ("digest tomorrow", "Did you mean `/papers digest now`?"),
            ("paper", "Which paper?"),
            ("paper banana", "isn't an arXiv id"),
            ("paper 2210.03629 2301.00001", "one paper"),
            ("paper https://arxiv.org/list/cs.CL/recent", "isn't an arXiv or Hugging Face paper"),
            ("saved everything", "/papers saved bibtex"),
            ("topic " + "a " * 200, "too long"),
        ],
    )
    def test_messages(self, text: str, message: str) -> None:
        with pytest.raises(UserInputError, match=message):
            parse(text)

    @pytest.mark.parametrize(
        "text",
        [
            "paper https://evil.example.com/abs/2210.03629",
            "paper <https://arxiv.org.evil.com/abs/2210.03629>",
            "https://example.org/papers/2210.03629",
            "topic see https://example.org/x",
        ],
    )
    def test_links_to_other_hosts_are_politely_refused(self, text: str) -> None:
        with pytest.raises(UnsafeLinkError, match="only read papers from arXiv and Hugging Face"):
            parse(text)


def test_text_echoed_back_never_pings_or_links() -> None:
    with pytest.raises(UserInputError) as info:
        parse("paper &lt;!channel&gt;")
    assert "<!channel>" not in str(info.value)
    with pytest.raises(UserInputError) as info:
        parse("paper @here")
    assert "@here" not in str(info.value)  # defused with a word joiner
    with pytest.raises(UserInputError) as info:
        parse('schedule "0 9 * * 1-5" &lt;!here&gt;')
    assert "<!here>" not in str(info.value)


class TestAuthors:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('follow author "Yann LeCun"', FollowAuthor("Yann LeCun")),
            ("follow author “Yann  LeCun”", FollowAuthor("Yann LeCun")),  # Slack's smart quotes
            ("Follow Author LeCun, Yann", FollowAuthor("LeCun, Yann")),
            ("unfollow author 'Yann LeCun'", UnfollowAuthor("Yann LeCun")),
            ("follow authorship studies", Follow("authorship studies")),  # a topic
        ],
    )
    def test_follow_author(self, text: str, expected: object) -> None:
        assert parse(text) == expected

    @pytest.mark.parametrize("text", ["follow author", "follow author 1234", "follow author <@U1>"])
    def test_bad_names_are_one_line(self, text: str) -> None:
        with pytest.raises(UserInputError) as err:
            parse(text)
        assert "\n" not in str(err.value)


class TestRelatedRefs:
    S2 = "99832586d55f540f603637e458a292406a0ed75d"

    @pytest.mark.parametrize(
        ("text", "ref"),
        [
            ("related 2210.03629", "2210.03629"),
            ("related https://arxiv.org/abs/2210.03629v2", "2210.03629"),
            ("related 10.1145/3442188.3445922", "DOI:10.1145/3442188.3445922"),
            ("related doi:10.1145/3442188.3445922", "DOI:10.1145/3442188.3445922"),
            (
                "related <https://doi.org/10.1145/3442188.3445922|doi.org/10.1145/3442188.3445922>",
                "DOI:10.1145/3442188.3445922",
            ),
            ("related 10.48550/arXiv.2210.03629", "2210.03629"),  # arXiv's own DOI
            (f"related https://www.semanticscholar.org/paper/ReAct/{S2}", f"S2:{S2}"),
            (f"related {S2.upper()}", f"S2:{S2}"),
        ],
    )
    def test_ids_dois_and_semantic_scholar_links(self, text: str, ref: str) -> None:
        assert parse(text) == Related(ref)

    def test_other_hosts_are_refused_without_being_opened(self) -> None:
        with pytest.raises(UnsafeLinkError, match="evil.example"):
            parse("related https://evil.example/paper/10.1145/x")
