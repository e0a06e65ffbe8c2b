"""Installation: pyproject.toml, the lock files and the wheel the Docker image installs.

The image can't be built here (no Docker engine), so the wheel is built from exactly the files the
Dockerfile copies, installed into a venv of its own, and its `paperboy db upgrade` is run against
the embedded PostgreSQL with no source tree in reach.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from conftest import cli_env
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
# Where the Dockerfile gathers the sources it builds from.
IMAGE_SOURCE = "/tmp/paperboy"


def _pins(lock: str) -> dict[str, str]:
    """{canonical name: version} of a lock file's `name==version` lines."""
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / lock).read_text(), re.M)
    return {canonicalize_name(name): version for name, version in pins}


def _supported_from_classifiers() -> list[str]:
    prefix = "Programming Language :: Python :: 3."
    return [c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"] if c.startswith(prefix)]


def _source_heads() -> set[str]:
    return set(ScriptDirectory(str(ROOT / "migrations")).get_heads())


class TestPyproject:
    def test_supported_pythons_agree_everywhere(self):
        versions = _supported_from_classifiers()
        allowed = SpecifierSet(PROJECT["requires-python"])
        assert versions == [v for v in (f"3.{minor}" for minor in range(8, 20)) if v in allowed]
        assert versions == ["3.11", "3.12", "3.13"]

        makefile = (ROOT / "Makefile").read_text()
        (supported,) = re.findall(r"^SUPPORTED := (.+)$", makefile, re.M)
        assert sorted(supported.split()) == versions
        low, high = versions[0].split(".")[1], int(versions[-1].split(".")[1]) + 1
        assert f"(3, {low}) <= sys.version_info < (3, {high})" in makefile

        (default,) = re.findall(
            r"^ARG PYTHON_VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M
        )
        assert default in versions

    def test_every_folder_of_app_ships_as_a_package(self):
        folders = {
            ".".join(path.relative_to(ROOT).parts)
            for path in [ROOT / "app", *(ROOT / "app").rglob("*")]
            if path.is_dir() and path.name != "__pycache__"
            and any(f.is_file() for f in path.iterdir())
        }  # fmt: skip
        listed = set(SETUPTOOLS["packages"])
        missing = sorted(folders - listed)
        assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
        assert SETUPTOOLS["package-dir"] == {"app.migrations": "migrations"}
        assert listed == folders | {"app.migrations", "app.migrations.versions"}

    def test_declares_the_mit_license_file(self):
        assert PROJECT["license"] == "MIT"
        assert PROJECT["license-files"] == ["LICENSE"]
        license_text = (ROOT / "LICENSE").read_text()
        assert license_text.startswith("MIT License")
        assert "Copyright (c) 2026 Paperboy contributors" in license_text


class TestLockFiles:
    """`make lock` writes them; these fail when pyproject.toml changed without it."""

    @pytest.mark.parametrize(
        ("lock", "requirements"),
        [
            ("requirements.lock", PROJECT["dependencies"]),
            (
                "requirements-dev.lock",
                PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"],
            ),
        ],
    )
    def test_pin_every_dependency_within_its_range(self, lock, requirements):
        pins = _pins(lock)
        for line in requirements:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in pins, f"{requirement.name} is not in {lock}: run `make lock`"
            assert pins[name] in requirement.specifier, (
                f"{lock} pins {name}=={pins[name]}, outside {line!r}: run `make lock`"
            )

    def test_dev_lock_keeps_the_runtime_pins(self):
        runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
        assert {name: dev.get(name) for name in runtime} == runtime

    def test_every_pin_is_hash_checked(self):
        for lock in ("requirements.lock", "requirements-dev.lock"):
            blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
            for block in blocks:
                if "==" in block.split("\n", 1)[0]:
                    assert "--hash=sha256:" in block, block.split("\n", 1)[0]


def _copy_image_sources(dest: Path) -> None:
    """Lay out in dest what the Dockerfile's `COPY ... /tmp/paperboy...` lines put in the image."""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        parts = line.split()
        if not parts or parts[0] != "COPY" or not parts[-1].startswith(IMAGE_SOURCE):
            continue
        target = dest / parts[-1].removeprefix(IMAGE_SOURCE).strip("/")
        for name in parts[1:-1]:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Paperboy's wheel, built (offline, with the locked setuptools) from the image's sources."""
    source = tmp_path_factory.mktemp("image-src")
    _copy_image_sources(source)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (built,) = out.glob("paperboy-*.whl")
    return built


class TestWheel:
    def test_carries_the_migrations_the_sample_feed_and_every_module(self, wheel: Path):
        names = set(zipfile.ZipFile(wheel).namelist())
        assert {"app/migrations/env.py", "app/migrations/script.py.mako", "app/py.typed"} <= names
        for version in (ROOT / "migrations" / "versions").glob("*.py"):
            assert f"app/migrations/versions/{version.name}" in names
        for path in (ROOT / "app").rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert path.relative_to(ROOT).as_posix() in names

    def test_metadata_names_the_license_and_the_supported_pythons(self, wheel: Path):
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
            text = archive.read(metadata).decode()
        assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
        assert "License-Expression: MIT" in text
        (requires,) = re.findall(r"^Requires-Python: (.+)$", text, re.M)
        assert SpecifierSet(requires) == SpecifierSet(PROJECT["requires-python"])
        for version in _supported_from_classifiers():
            assert f"Classifier: Programming Language :: Python :: {version}" in text

    def test_installed_wheel_upgrades_an_empty_database_without_the_source_tree(
        self, wheel: Path, pg_server_url: str, settings: Settings, tmp_path: Path
    ):
        # A venv of its own holding the wheel; the locked dependencies come from this venv's
        # site-packages through a .pth (which doesn't pull in the editable install's finder).
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        python = venv / "bin" / "python"
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
             "--no-deps", "--no-index", str(wheel)],
            check=True, capture_output=True,
        )  # fmt: skip
        site = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        (Path(site) / "locked_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

        where = subprocess.run(
            [python, "-c", "from app.db import engine; print(engine.MIGRATIONS_DIR)"],
            cwd=tmp_path, check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        assert Path(where) == Path(site) / "app" / "migrations"

        admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE from_wheel"))
        admin.dispose()
        url = make_url(pg_server_url).set(database="from_wheel")
        cfg = settings.model_copy(
            update={"database_url": url.render_as_string(hide_password=False)}
        )
        result = subprocess.run(
            [venv / "bin" / "paperboy", "db", "upgrade"],
            cwd=tmp_path, env=cli_env(cfg), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "schema up to date" in result.stdout

        db = create_engine(url)
        with db.connect() as conn:
            applied = set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        db.dispose()
        assert applied == _source_heads()
