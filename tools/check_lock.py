"""Check that the lock files install from wheels alone on each supported Python (make check-lock).

    .venv/bin/python tools/check_lock.py [LOCK ...]     (default: both lock files)

The tests run on one Python (the newest present; only 3.11 on our machines), so this asks pip to
resolve the locked requirements for each other version and for both CPU architectures of the
Docker image, installing nothing. A pin without a wheel for Python 3.13, or for arm64, fails here
instead of in someone's `docker build` (the slim image has no compiler). It needs the package
registry and nothing else, and runs the checks side by side: a few seconds.

The supported versions are pyproject.toml's classifiers (tests/test_packaging.py keeps them, the
Makefile and requires-python in step). pip evaluates environment markers for the machine it runs
on, not the target: the lock's few markers only select Windows or WebAssembly extras, so a Linux
run sees the Linux set for every version.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ("requirements.lock", "requirements-dev.lock")
CLASSIFIER = "Programming Language :: Python :: "
# The image's base is Debian (glibc 2.36 in bookworm, newer since): any manylinux wheel up to that
# glibc runs there. pip doesn't widen a --platform tag itself, so each one is listed.
GLIBC_MINORS = range(17, 37)
ARCHES = ("x86_64", "aarch64")


def supported_versions() -> list[str]:
    """The Python versions pyproject.toml's classifiers promise, e.g. ["3.11", "3.12"]."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    versions = [c.removeprefix(CLASSIFIER) for c in project["classifiers"]]
    return [v for v in versions if v.startswith("3.") and v.replace(".", "").isdigit()]


def platform_args(arch: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS] + [f"manylinux2014_{arch}"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def check(version: str, arch: str, locks: list[str]) -> str | None:
    """None when every locked pin has a wheel for this Python and architecture, else pip's error."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--quiet",
        "--disable-pip-version-check",
        "--ignore-installed",  # resolve everything, not only what this venv lacks
        "--only-binary=:all:",
        "--python-version",
        version,
        *platform_args(arch),
        "--require-hashes",
    ]
    for lock in locks:
        command += ["-r", str(ROOT / lock)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return None
    # Keep pip's ERROR lines; a machine's pip.conf can add unrelated warnings.
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    return "\n    ".join(errors or result.stderr.strip().splitlines()[-3:])


def main(argv: list[str]) -> int:
    locks = argv or list(LOCKS)
    versions = supported_versions()
    targets = [(version, arch) for version in versions for arch in ARCHES]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        results = list(pool.map(lambda target: check(*target, locks), targets))
    elapsed = time.monotonic() - started
    failures = [(t, error) for t, error in zip(targets, results, strict=True) if error]
    for (version, arch), error in failures:
        print(f"error: {' + '.join(locks)} won't install from wheels on Python {version}, {arch}:")
        print(f"    {error}")
    if failures:
        print("Narrow its range in pyproject.toml to versions with those wheels, then `make lock`.")
        return 1
    print(
        f"lock ok: {', '.join(locks)} install from wheels on Python {', '.join(versions)}"
        f" (Linux {' and '.join(ARCHES)}) in {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
