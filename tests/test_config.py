"""Settings read from the environment the way a user writes them."""

from pathlib import Path

from app.config import Settings


def test_a_copied_env_example_means_everything_unset(tmp_path: Path, monkeypatch) -> None:
    root = Path(__file__).resolve().parents[1]
    env_file = tmp_path / ".env"
    env_file.write_text((root / ".env.example").read_text())
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    cfg = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert cfg.database_url is None
    assert cfg.anthropic_api_key is None and cfg.anthropic_base_url is None
    assert cfg.slack_bot_token is None and cfg.slack_signing_secret is None
    assert cfg.arxiv_categories == ["cs.CL", "cs.LG", "cs.AI", "cs.IR"]
    assert cfg.arxiv_delay_seconds == 3


def test_categories_and_postgres_urls_are_normalised(monkeypatch) -> None:
    monkeypatch.setenv("ARXIV_CATEGORIES", " cs.CL, cs.IR ,")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/paperboy")
    cfg = Settings(_env_file=None)  # type: ignore[call-arg]
    assert cfg.arxiv_categories == ["cs.CL", "cs.IR"]
    assert cfg.sqlalchemy_url == "postgresql+psycopg://u:p@db:5432/paperboy"
