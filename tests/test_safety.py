"""Untrusted text (paper metadata, model output, user links) made safe for Slack and fetching."""

import pytest

from app.paperids import find_paper_ids, foreign_urls, id_from_url, split_version
from app.safety import clean_text, escape_mrkdwn, is_allowed_url, safe_llm_text, truncate


class TestLinks:
    @pytest.mark.parametrize(
        "url",
        [
            "https://arxiv.org/abs/2210.03629",
            "http://export.arxiv.org/abs/2210.03629",
            "https://huggingface.co/papers/2210.03629",
        ],
    )
    def test_arxiv_and_hugging_face_are_allowed(self, url: str) -> None:
        assert is_allowed_url(url)

    @pytest.mark.parametrize(
        "url",
        [
            "https://arxiv.org.evil.com/abs/1",
            "https://evilarxiv.org/abs/1",
            "https://user:pw@arxiv.org/abs/1",
            "ftp://arxiv.org/abs/1",
            "file:///etc/passwd",
            "http://127.0.0.1/abs/2210.03629",
            "not a url",
        ],
    )
    def test_everything_else_is_refused(self, url: str) -> None:
        assert not is_allowed_url(url)

    def test_model_output_keeps_only_paper_links(self) -> None:
        text = "See https://evil.com/x, evil.example.io/y and https://arxiv.org/abs/2210.03629."
        out = safe_llm_text(text)
        assert "evil" not in out
        assert "https://arxiv.org/abs/2210.03629" in out
        assert out.count("[link removed]") == 2


class TestMentions:
    def test_slack_mention_syntax_never_survives_cleaning(self) -> None:
        out = clean_text("Ping <!channel> <!here|here> <@U123> <#C1> <!subteam^S1> now")
        assert "<!" not in out and "<@" not in out and "<#" not in out

    def test_plain_mass_mentions_are_defused(self) -> None:
        for word in ("@channel", "@here", "@everyone", "@Channel"):
            assert word not in escape_mrkdwn(f"please {word} look")

    def test_mrkdwn_escapes_only_the_three_special_characters(self) -> None:
        assert escape_mrkdwn("a & b < c > d *e* _f_") == "a &amp; b &lt; c &gt; d *e* _f_"

    def test_truncation_never_splits_an_escape(self) -> None:
        cut = truncate(escape_mrkdwn("x" * 8 + "&" + "y" * 20), 12)
        assert cut.endswith("…") and "&am…" not in cut and len(cut) <= 12


class TestPaperIds:
    def test_ids_are_found_in_slack_links_and_bare_text(self) -> None:
        text = "<https://arxiv.org/abs/2210.03629v2|ReAct> vs 2401.00001 and https://huggingface.co/papers/2501.12345"
        assert find_paper_ids(text) == ["2210.03629", "2501.12345", "2401.00001"]

    def test_links_to_other_hosts_are_not_papers(self) -> None:
        assert id_from_url("https://evil.com/abs/2210.03629") is None
        assert foreign_urls("<https://evil.com/x> https://arxiv.org/pdf/2210.03629v1") == [
            "https://evil.com/x"
        ]

    def test_versions_and_old_style_ids(self) -> None:
        assert split_version("2210.03629v3") == ("2210.03629", 3)
        assert split_version("cs/0601001") == ("cs/0601001", None)
        with pytest.raises(ValueError):
            split_version("not-an-id")
