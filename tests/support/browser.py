"""A page as a real browser reads it: Debian's headless Chromium, its DOM after layout.

Skips, saying why, where Chromium is not installed (.ci/run installs it if it can)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

__all__ = ["dump_dom"]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium on PATH (Debian package chromium; .ci/run installs it if it can)")


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM of the file ``page`` once Chromium has loaded it, with a fresh profile in
    ``profile``."""
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        # No background traffic: this machine's network is closed.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--dump-dom",
        page.as_uri(),
    ]
    started = time.monotonic()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"chromium did not finish in 90 s (started {time.monotonic() - started:.0f} s ago)"
        )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
