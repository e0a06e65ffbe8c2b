"""Embeddings: the real bundled model, offline; vectors stored by every path that stores papers,
re-made when the text or the model changes; `paperboy embed` fills in what is missing."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.embeddings import count_stale, nearest
from app.db.engine import session_scope
from app.db.models import Paper, PaperEmbedding
from app.db.papers import upsert_papers
from app.embeddings import DEFAULT_MODEL, DIM, build_embedder
from app.errors import ConfigError
from app.ingest import store_records
from app.sources.records import PaperRecord
from tests.deps import embedder, run_cli

NOW = datetime(2026, 11, 30, tzinfo=UTC)

PAPERS = {
    "2611.30001": (
        "Detecting flaky tests in continuous integration",
        "Flaky tests pass and fail on the same code. We mine CI logs to detect flaky tests.",
    ),
    "2611.30002": (
        "Protein structure prediction with diffusion",
        "We predict the three-dimensional structure of proteins from amino acid sequences.",
    ),
    "2611.30003": (
        "Retrieval-augmented generation for question answering",
        "A retriever fetches passages that a language model conditions on to answer questions.",
    ),
}


def record(arxiv_id: str, title: str, abstract: str) -> PaperRecord:
    return PaperRecord(arxiv_id=arxiv_id, title=title, abstract=abstract, published=NOW)


def store(engine: Engine, **papers: tuple[str, str]) -> None:
    with session_scope(engine) as session:
        store_records(
            session,
            records=[record(k, *v) for k, v in (papers or PAPERS).items()],
            embedder=embedder(),
        )


def vectors(engine: Engine) -> dict[int, PaperEmbedding]:
    with Session(engine) as session:
        return {e.paper_id: e for e in session.scalars(select(PaperEmbedding))}


class TestTheBundledModel:
    def test_loads_and_embeds_with_no_network(self) -> None:
        # A fresh interpreter where every socket connection fails: loading the bundled model
        # and embedding must not need one (WordLlama.load() would try to download here).
        script = textwrap.dedent(
            """
            import socket
            def refuse(*args, **kwargs):
                raise OSError("network used")
            socket.socket.connect = refuse
            socket.create_connection = refuse
            from app.embeddings import build_embedder
            e = build_embedder()
            v = e.embed(["offline embeddings"])
            print(e.name, v.shape)
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{DEFAULT_MODEL}@") and "(1, 256)" in out.stdout

    def test_vectors_are_unit_length_and_deterministic(self) -> None:
        texts = ["Detecting flaky tests", "Protein folding", "x" * 10_000]
        first, second = embedder().embed(texts), build_embedder().embed(texts)
        assert first.shape == (3, DIM) and first.dtype == np.float32
        assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
        assert np.array_equal(first, second)

    def test_an_empty_text_gets_a_zero_vector(self) -> None:
        out = embedder().embed(["", "flaky tests"])
        assert not out[0].any() and out[1].any()

    def test_meaning_not_only_words(self) -> None:
        query, flaky, protein = embedder().embed(
            [
                "nondeterministic tests that pass and fail randomly",
                PAPERS["2611.30001"][0],
                PAPERS["2611.30002"][0],
            ]
        )
        assert float(query @ flaky) > float(query @ protein) + 0.1

    def test_an_unknown_model_is_one_clear_error(self) -> None:
        with pytest.raises(ConfigError, match="EMBEDDING_MODEL='nope' is not a model"):
            build_embedder("nope")
        with pytest.raises(ConfigError, match="embedding model file missing"):
            build_embedder("file:/nonexistent")


class TestStoredVectors:
    def test_stored_papers_get_vectors_of_the_current_model(self, engine: Engine) -> None:
        store(engine)
        stored = vectors(engine)
        assert len(stored) == 3
        assert {e.model for e in stored.values()} == {embedder().name}

    def test_a_changed_abstract_is_re_embedded_and_an_unchanged_one_is_not(
        self, engine: Engine
    ) -> None:
        store(engine)
        before = vectors(engine)
        title, _ = PAPERS["2611.30003"]
        store(engine, **{**PAPERS, "2611.30003": (title, "A new version's abstract, about cats.")})
        after = vectors(engine)
        changed = [pid for pid in after if after[pid].text_hash != before[pid].text_hash]
        assert len(changed) == 1
        assert not np.array_equal(after[changed[0]].embedding, before[changed[0]].embedding)
        same = [pid for pid in after if pid not in changed]
        assert all(after[p].embedded_at == before[p].embedded_at for p in same)

    def test_nearest_finds_the_paper_a_paraphrase_means(self, engine: Engine) -> None:
        store(engine)
        (query,) = embedder().embed(["tests whose outcome is random between runs"])
        with Session(engine) as session:
            hits = nearest(session, vector=query, model=embedder().name, limit=3)
            best = session.get(Paper, hits[0].paper_id)
            assert best is not None and best.arxiv_id == "2611.30001"
        assert hits[0].similarity > hits[1].similarity > hits[2].similarity


def custom_model(folder: Path) -> str:
    """A different static model saved as `file:DIR` takes: the bundled table, mirrored."""
    bundled = embedder()
    folder.mkdir()
    save_file({"embedding.weight": -bundled.table}, str(folder / "weights.safetensors"))
    spec = importlib.util.find_spec("wordllama")
    assert spec is not None and spec.origin is not None
    tokenizer = Path(spec.origin).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"
    shutil.copy(tokenizer, folder / "tokenizer.json")
    return f"file:{folder}"


class TestEmbedCommand:
    def test_fills_in_papers_stored_without_vectors(self, settings: Settings, engine: Engine):
        with session_scope(engine) as session:  # as a release without embeddings stored them
            upsert_papers(session, records=[record(k, *v) for k, v in PAPERS.items()])
        out = run_cli(settings, "embed")
        assert out.returncode == 0, out.stderr
        assert f"embedded 3 papers with {embedder().name}" in out.stdout
        assert len(vectors(engine)) == 3
        again = run_cli(settings, "embed")
        assert "every paper has a vector" in again.stdout

    def test_a_model_change_re_embeds_everything(
        self, settings: Settings, engine: Engine, tmp_path: Path
    ) -> None:
        store(engine)
        model = custom_model(tmp_path / "mirrored")
        other = settings.model_copy(update={"embedding_model": model})
        with Session(engine) as session:
            assert count_stale(session, model=build_embedder(model).name) == 3
        out = run_cli(other, "embed", "--batch", "2")
        assert out.returncode == 0, out.stderr
        assert "embedded 3 papers with file:mirrored@" in out.stdout
        assert {e.model for e in vectors(engine).values()} == {build_embedder(model).name}

    def test_an_unknown_model_prints_one_line(self, settings: Settings, engine: Engine) -> None:
        out = run_cli(settings.model_copy(update={"embedding_model": "nope"}), "embed")
        assert out.returncode == 1
        assert "Traceback" not in out.stderr
        assert len((out.stdout + out.stderr).strip().splitlines()) == 1
