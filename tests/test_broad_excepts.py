"""Every broad `except` in app/ says why it must catch everything.

ruff's BLE001 flags a broad `except` that neither re-raises nor logs the traceback, and a
`# noqa: BLE001` there needs its reason. A broad `except` that does log the traceback passes
ruff (and RUF100 then forbids a noqa on it), so this test asks those for their reason too.
"""

import re
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
BROAD = re.compile(r"^\s*except\s+\(?[^:#]*\b(Exception|BaseException)\b[^:#]*:(?P<rest>.*)$")


def test_every_broad_except_in_app_carries_its_reason() -> None:
    silent = []
    for path in sorted(APP.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = BROAD.match(line)
            if match and not match["rest"].strip().startswith("#"):
                silent.append(f"{path.relative_to(APP.parent)}:{number}: {line.strip()}")
    assert not silent, "broad excepts without a reason:\n" + "\n".join(silent)
