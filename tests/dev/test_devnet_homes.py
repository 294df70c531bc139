"""Where devnet's homes live, however a run ends: a temporary directory removed at the
end (on an error and on Ctrl-C too), or ``--home``, kept and never emptied.

The run is made to fail at its first step (building the network) by a stand-in that
writes a file into the directory first, as the real one would have; the whole runs
are in ``test_devnet.py`` (slow).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev import devnet
from ilo_node.errors import NodeError
from protocol.errors import UsageError


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A $TMPDIR of the test's own, where devnet's temporary directory goes."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr("tempfile.tempdir", None)  # read $TMPDIR again
    yield tmp


def _failing_build(exc: BaseException) -> Any:
    def build(base: Path, *args: Any, **kwargs: Any) -> None:
        base.mkdir(parents=True, exist_ok=True)  # as build_network does
        (base / "passphrase").write_text("scratch\n")
        raise exc

    return build


@pytest.mark.parametrize(
    "exc", [NodeError("a node did not start"), KeyboardInterrupt()], ids=["error", "ctrl-c"]
)
def test_the_temporary_homes_are_removed_however_the_run_ends(
    tmpdir_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exc: BaseException,
) -> None:
    monkeypatch.setattr(devnet, "build_network", _failing_build(exc))
    with pytest.raises(type(exc)):
        devnet.run_devnet(None, 5.0, as_json=False)
    assert list(tmpdir_env.iterdir()) == []
    said = capsys.readouterr()
    assert "in a temporary directory (" in said.out
    if isinstance(exc, KeyboardInterrupt):
        assert said.err == "devnet interrupted: every node stopped; temporary homes removed\n"


def test_home_is_kept_when_the_run_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(devnet, "build_network", _failing_build(KeyboardInterrupt()))
    home = tmp_path / "devnet"
    with pytest.raises(KeyboardInterrupt):
        devnet.run_devnet(home, 5.0, as_json=False)
    assert (home / "passphrase").is_file()
    assert (
        capsys.readouterr().err
        == f"devnet interrupted: every node stopped; node homes kept in {home}\n"
    )


def test_a_home_that_is_not_empty_is_refused_and_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "devnet"
    home.mkdir()
    (home / "mine.txt").write_text("not devnet's")
    with pytest.raises(UsageError, match="is not empty"):
        devnet.run_devnet(home, 5.0, as_json=False)
    assert [p.name for p in home.iterdir()] == ["mine.txt"]
