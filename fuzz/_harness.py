"""What every fuzz target shares: the repository on ``sys.path``, running under
atheris, and a node served in-process for the API targets.

Run a target directly (``python fuzz/peer_api.py -max_total_time=600``); every
argument goes to libFuzzer. These files are not tests: pytest does not collect
this folder, and atheris is an optional extra (``pip install -e '.[test,fuzz]'``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    """Hand ``test_one_input`` to atheris with the command line's libFuzzer options."""
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed: pip install -e '.[test,fuzz]' (see tests/README.md)")
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


def instrumented() -> Any:
    """``atheris.instrument_imports()`` if atheris is there (coverage-guided), else a
    context that does nothing, so that every target stays importable without it."""
    try:
        import atheris
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return atheris.instrument_imports(include=["protocol", "keys", "ilo_node"])


class Served:
    """FR@TR of a built three-node network, served in this process with two envelopes
    and a checkpoint in its log; ``loop`` runs its coroutines one input at a time."""

    def __init__(self) -> None:
        import asyncio
        import tempfile

        from protocol.examples import example
        from tests.support.memkeys import build_in_memory
        from tests.support.servicekit import serve_node

        base = Path(tempfile.mkdtemp(prefix="ilo-fuzz-"))
        self.built = build_in_memory(base / "net", ["COM@EU", "DE@TR", "FR@TR"])
        self.node = serve_node(self.built, base, "FR@TR")
        for _ in range(2):
            self.node.node.publish("incident_alert", example("incident_alert"))
        self.node.node.checkpoint()
        self.loop = asyncio.new_event_loop()
