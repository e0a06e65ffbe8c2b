"""`paperboy ingest`, `status` and `demo` as a user runs them: a subprocess against the fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fakes.arxiv_api import FakeArxiv, arxiv_paper
from fakes.hf_api import FakeHF, hf_item

from app.config import Settings
from tests.deps import run_cli as run

TODAY = datetime.now(UTC).date().isoformat()


@pytest.fixture
def cfg(settings: Settings, arxiv_fake: FakeArxiv, hf_fake: FakeHF) -> Settings:
    arxiv_fake.add(arxiv_paper("2611.00001", title="Agents that plan"))
    hf_fake.daily[TODAY] = [hf_item("2611.00001", upvotes=3), hf_item("2611.00002")]
    return settings.model_copy(
        update={
            "arxiv_api_url": arxiv_fake.url,
            "hf_api_url": hf_fake.url,
            "arxiv_categories": ["cs.CL"],
            "arxiv_num_retries": 0,
            "hf_num_retries": 0,
            "hf_days": 1,
            "source_retry_base_seconds": 0.0,
        }
    )


def test_ingest_prints_one_line_per_source_and_exits_zero(cfg: Settings):
    result = run(cfg, "ingest")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("arxiv: ok - fetched 1, inserted 1")
    assert lines[1].startswith("hf: ok - fetched 2, inserted 1, updated 1")


def test_one_source_failing_still_exits_zero(cfg: Settings, hf_fake: FakeHF):
    hf_fake.fail(503)
    result = run(cfg, "ingest")
    assert result.returncode == 0, result.stderr
    assert "hf: failed - Hugging Face: HTTP 503 after 1 attempts" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_every_source_failing_exits_non_zero_without_traceback(settings: Settings):
    dead = settings.model_copy(
        update={"arxiv_num_retries": 0, "hf_num_retries": 0, "arxiv_categories": ["cs.CL"]}
    )
    result = run(dead, "ingest")
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["arxiv: failed", "hf: failed"]
    assert "connection failed" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_only_the_requested_source_runs(cfg: Settings, hf_fake: FakeHF):
    result = run(cfg, "ingest", "--source", "arxiv")
    assert result.returncode == 0
    assert result.stdout.startswith("arxiv: ok") and "hf:" not in result.stdout
    assert hf_fake.requests == []


def test_a_bad_source_name_is_one_line(cfg: Settings):
    result = run(cfg, "ingest", "--source", "pubmed")
    assert result.returncode == 1
    expected = "error: unknown source 'pubmed' (use arxiv, hf, s2_authors or all)"
    assert result.stderr.strip() == expected


def test_status_json_shows_the_last_run_of_each_source(cfg: Settings, hf_fake: FakeHF):
    hf_fake.send_raw(b"not json")
    run(cfg, "ingest")
    result = run(cfg, "status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)["ingest"]
    assert data["papers"]["total"] == 1
    arxiv_run = data["runs"]["arxiv"]["last_run"]
    assert (arxiv_run["status"], arxiv_run["inserted"]) == ("ok", 1)
    hf_run = data["runs"]["hf"]["last_run"]
    assert hf_run["status"] == "failed" and "invalid JSON" in hf_run["error"]
    assert data["runs"]["hf"]["last_ok_at"] is None


def test_status_text_shows_counts_and_errors_verbatim(
    cfg: Settings, arxiv_fake: FakeArxiv, hf_fake: FakeHF
):
    # A topic whose arXiv query arXiv rejects: the error quotes it, brackets and all.
    assert run(cfg, "topic", "add", "odd", "--arxiv-query", "ti:[/x]").returncode == 0
    arxiv_fake.bad_queries.add("ti:[/x]")
    hf_fake.fail(503)
    assert run(cfg, "ingest").returncode == 0
    result = run(cfg, "status")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "│ " in line}
    assert "partial" in rows["arxiv"] and "ti:[/x]" in rows["arxiv"]
    assert [c.strip() for c in rows["arxiv"].split("│")[4:6]] == ["1", "1"]  # fetched, inserted
    assert "failed" in rows["hf"] and "HTTP 503" in rows["hf"]
    data = json.loads(run(cfg, "status", "--json").stdout)
    assert {"ingest", "llm"} <= data.keys()
    assert "ti:[/x]" in data["ingest"]["runs"]["arxiv"]["last_run"]["error"]


def test_status_on_a_narrow_terminal_still_shows_each_sources_error(cfg: Settings, hf_fake: FakeHF):
    hf_fake.fail(503)
    assert run(cfg, "ingest").returncode == 0
    result = run(cfg, "status", COLUMNS="80")
    assert result.returncode == 0, result.stderr
    assert "hf: " in result.stdout and "503" in result.stdout


def test_status_text_before_any_run(cfg: Settings):
    result = run(cfg, "status")
    assert result.returncode == 0, result.stderr
    assert "never run" in result.stdout


def test_demo_offline_shows_top_papers_from_the_sample(settings: Settings):
    result = run(settings, "demo", PAPERBOY_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "PAPERBOY_OFFLINE=1: using the bundled sample feed" in out
    assert "arxiv: ok" in out and "hf: ok" in out
    assert "Top papers for the default topics" in out
    for topic in ("LLM agents", "retrieval-augmented generation", "reinforcement learning"):
        assert topic in out
    assert "(nothing yet)" not in out


def test_demo_with_an_api_key_shows_claudes_summaries(settings: Settings, anthropic_fake) -> None:
    cfg = settings.model_copy(update={"anthropic_base_url": anthropic_fake.url})
    result = run(cfg, "demo", PAPERBOY_OFFLINE="1", ANTHROPIC_API_KEY="sk-ant-test")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "No ANTHROPIC_API_KEY" not in out
    assert "Claude:" in out
    # Every summarize call went direct (no Message Batch: it could take an hour) and the
    # digest at the end shows at least one model-written card, not only extractive ones.
    assert anthropic_fake.message_requests and not anthropic_fake.batch_requests
    digest = out.split("The digest a channel")[-1]
    assert digest.count("extractive summary") < digest.count("Summarize in depth")
