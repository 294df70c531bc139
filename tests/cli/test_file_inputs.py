"""Files given to the CLI, and frames on its standard input: whatever they hold, the
command ends with ``error:`` and a ``hint:`` (exit 1), a click usage error (exit 2),
or success, never an internal error or a traceback.

Part one breaks one rule per test, through the CLI in process (content JSON for
``publish --file``, heads files, roster descriptions, ``retention.json``,
``daemon.json``, public key files, passphrase files, bundle files, frames for ``log
ingest``, times typed as options). Part two feeds generated files to every reader
(the functions the commands call, fast) and, marked slow, to the commands
themselves.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilo_node.client.bundles import read_heads_file
from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.formats.frames import read_frames
from ilo_node.formats.jsoncontent import content_from_file
from ilo_node.formats.jsonfile import parse_json
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.bundle import make_bundle
from ilo_node.home.home import Home, now_ms, read_public_record
from ilo_node.home.keyfiles import resolve_passphrase
from ilo_node.home.roster_description import payload_from_description
from ilo_node.net.config import load_config
from protocol.errors import IloError
from tests.support.clirun import Ran, check, invoke, json_error

PASS = "file inputs passphrase"
DE, FR = "DE@TR", "FR@TR"
KEY_HEX = "ab" * 32

# Allowed by hypothesis only where a test takes a directory fixture: each example
# writes its own file name, so nothing leaks from one example into the next.
_FILES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(
        tmp_path_factory.mktemp("files") / "net",
        [DE, FR, "COM@EU"],
        passphrase=PASS.encode(),
        keep_authorities=True,
    )


def _run(network: BuiltNetwork, cwd: Path, *args: str, home: Path | None = None) -> Ran:
    argv = ["--home", str(home)] if home is not None else []
    return invoke([*argv, *args], cwd=cwd, env={"ILO_NODE_PASSPHRASE": PASS})


def _refused(result: Ran, words: str) -> None:
    """An ``error:`` line with ``words``, a hint, exit 2 (the input was given wrongly)
    or 1 (it was read, and what it says is refused); no traceback."""
    check(result, ok=False)
    assert result.returncode in (1, 2), result
    assert words in result.stderr.splitlines()[0], result.stderr


NESTED = "[" * 5000 + "]" * 5000
# What json.loads took, or failed on in ways that were not errors of ours.
BAD_JSON = [
    pytest.param(NESTED, "nests deeper than", id="deep"),
    pytest.param('{"a": NaN}', "NaN is not a JSON number", id="nan"),
    pytest.param('{"a": -Infinity}', "-Infinity is not a JSON number", id="infinity"),
    pytest.param('{"a": 1e400}', "is too large", id="1e400"),
    pytest.param('{"a": ' + "9" * 30 + "}", "does not fit in 64 bits", id="huge-int"),
    pytest.param('{"a": ' + "9" * 5000 + "}", "not valid JSON", id="5000-digits"),
    pytest.param('{"a": 1, "a": 2}', "appears twice", id="duplicate-key"),
    pytest.param(b'{"a": "\xff"}', "is not UTF-8", id="not-utf8"),
]


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# -- part one: one rule per test --------------------------------------------------------------


@pytest.mark.parametrize(("data", "words"), BAD_JSON)
def test_content_file_that_is_not_plain_json_is_refused(
    network: BuiltNetwork, tmp_path: Path, data: str | bytes, words: str
) -> None:
    _write(tmp_path / "c.json", data)
    result = _run(
        network,
        tmp_path,
        "publish",
        "incident_alert",
        "--file",
        "c.json",
        home=network.nodes[DE].path,
    )
    _refused(result, words)


def test_content_file_bytes_value_must_be_a_hex_string(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    # str() turned {"$bytes": 12} into the byte 0x12.
    content = {"title": "t", "refs": [{"$bytes": 12}]}
    _write(tmp_path / "c.json", json.dumps(content))
    result = _run(
        network,
        tmp_path,
        "publish",
        "incident_alert",
        "--file",
        "c.json",
        home=network.nodes[DE].path,
    )
    _refused(result, "must be a string of hex")


def test_content_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    _write(tmp_path / "c.json", b'\xef\xbb\xbf{"title": "t"}')
    assert content_from_file(tmp_path / "c.json") == {"title": "t"}


def test_content_file_that_is_a_directory_is_a_usage_error(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    (tmp_path / "d").mkdir()
    result = _run(network, tmp_path, "publish", "incident_alert", "--file", "d")
    check(result, usage=True)


def _heads(heads: Any, **extra: Any) -> str:
    return json.dumps(
        {"format": "ilo-node-heads", "network": "n", "node": DE, "heads": heads, **extra}
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(_heads({KEY_HEX: 2**63}), "seqs from 0 to 2**63 - 1", id="seq-2**63"),
        pytest.param(_heads({KEY_HEX: -1}), "seqs from 0", id="negative"),
        pytest.param(_heads({KEY_HEX: True}), "seqs from 0", id="bool"),
        pytest.param(_heads({KEY_HEX: 1.0}), "seqs from 0", id="float"),
        pytest.param(_heads({"ab " * 21 + "a": 1}), "author keys (64 hex digits)", id="spaces"),
        pytest.param(_heads({"\uff10" * 64: 1}), "author keys (64 hex digits)", id="wide-digits"),
        pytest.param(_heads([KEY_HEX, 1]), "field 'heads' must be an object", id="list"),
        pytest.param(_heads({}, format="ilo-node-home"), "is not a heads file", id="format"),
        pytest.param("[1]", "must be a JSON object", id="not-object"),
        pytest.param(NESTED, "nests deeper than", id="deep"),
    ],
)
def test_heads_file_is_checked_field_by_field(
    network: BuiltNetwork, tmp_path: Path, text: str, words: str
) -> None:
    _write(tmp_path / "heads.json", text)
    result = _run(
        network,
        tmp_path,
        "bundle",
        "export",
        "--since",
        "heads.json",
        "-o",
        "b",
        home=network.nodes[DE].path,
    )
    _refused(result, words)
    assert not (tmp_path / "b").exists()


def test_a_heads_file_as_written_is_read(tmp_path: Path) -> None:
    _write(tmp_path / "h.json", _heads({KEY_HEX: 2**63 - 1}))
    assert read_heads_file(tmp_path / "h.json") == {bytes.fromhex(KEY_HEX): 2**63 - 1}


def _home_copy(network: BuiltNetwork, tmp_path: Path, node: str) -> Path:
    return Path(shutil.copytree(network.nodes[node].path, tmp_path / node))


@pytest.mark.parametrize(
    ("policy", "words"),
    [
        pytest.param({"default": True}, "must be an integer", id="bool"),
        pytest.param({"default": 1.5}, "must be an integer", id="float"),
        pytest.param({"default": 2**63}, "must be an integer from 0 to", id="2**63"),
        pytest.param({"default": -1}, "must be an integer", id="negative"),
        pytest.param({"default": "30"}, "must be an integer", id="text"),
        pytest.param([30], "must map kinds", id="list"),
    ],
)
def test_retention_json_days_are_integers_in_range(
    network: BuiltNetwork, tmp_path: Path, policy: Any, words: str
) -> None:
    home = _home_copy(network, tmp_path, FR)
    _write(home / "retention.json", json.dumps(policy))
    _refused(_run(network, tmp_path, "retention", "run", home=home), words)


@pytest.mark.parametrize(("data", "words"), BAD_JSON[:3])
def test_retention_json_that_is_not_plain_json_is_refused(
    network: BuiltNetwork, tmp_path: Path, data: str, words: str
) -> None:
    home = _home_copy(network, tmp_path, FR)
    _write(home / "retention.json", data)
    _refused(_run(network, tmp_path, "retention", "run", home=home), words)


@pytest.mark.parametrize(
    ("settings_", "words"),
    [
        pytest.param({"fanout": "2"}, "'fanout' must be an integer", id="text-for-int"),
        pytest.param({"fanout": True}, "'fanout' must be an integer", id="bool-for-int"),
        pytest.param({"fanout": 2.5}, "'fanout' must be an integer", id="float-for-int"),
        pytest.param({"sync_interval_s": -1}, "must be a number from 0", id="negative"),
        pytest.param({"listen": 7400}, "'listen' must be a string or null", id="int-listen"),
        pytest.param({"listen": "localhost"}, "'listen' must be host:port", id="no-port"),
        pytest.param({"listen": "h:99999"}, "'listen' must be host:port", id="big-port"),
        pytest.param({"bogus": 1}, "unknown settings bogus", id="unknown"),
        pytest.param([1, 2], "must be a JSON object", id="list"),
        pytest.param(5, "must be a JSON object", id="number"),
    ],
)
def test_daemon_json_settings_are_checked_against_their_types(
    network: BuiltNetwork, tmp_path: Path, settings_: Any, words: str
) -> None:
    # A list was an internal error (sorted() of ints in the message), a number a
    # TypeError; a setting of the wrong type started the daemon and failed inside it.
    home = _home_copy(network, tmp_path, DE)
    _write(home / "daemon.json", json.dumps(settings_))
    _refused(_run(network, tmp_path, "run", home=home), words)


def test_daemon_json_of_the_right_types_is_read(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_text(
        json.dumps(
            {"listen": "127.0.0.1:7400", "fanout": 3, "sync_interval_s": 1, "peer_rate": 2.5}
        )
    )
    config = load_config(Home(tmp_path))
    assert (config.listen, config.fanout, config.sync_interval_s, config.peer_rate) == (
        "127.0.0.1:7400",
        3,
        1,
        2.5,
    )


def _public_record(built: BuiltNetwork, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**Home(built.nodes[DE].path).public_record(), **(changes or {})}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        pytest.param({"node": 5}, "the 'node' field is not text", id="node-int"),
        pytest.param({"network": ["x"]}, "the 'network' field is not text", id="network-list"),
        pytest.param({"key": 1234}, "not a 32-byte public key", id="key-int"),
    ],
)
def test_public_key_file_fields_must_be_text(
    network: BuiltNetwork, tmp_path: Path, change: dict[str, Any], words: str
) -> None:
    _write(tmp_path / "de.pub", json.dumps(_public_record(network, change)))
    authority = network.base / "authorities" / "DE"
    _refused(_run(network, tmp_path, "cert", "issue", "de.pub", "-o", "c", home=authority), words)


@pytest.mark.parametrize(("data", "words"), BAD_JSON)
def test_public_key_file_that_is_not_plain_json_is_refused(
    network: BuiltNetwork, tmp_path: Path, data: str | bytes, words: str
) -> None:
    _write(tmp_path / "de.pub", data)
    authority = network.base / "authorities" / "DE"
    result = _run(network, tmp_path, "cert", "issue", "de.pub", "-o", "c", home=authority)
    _refused(result, "is not a public key file")
    assert words in result.stderr


def _description(**changes: Any) -> dict[str, Any]:
    description: dict[str, Any] = {
        "network": "ilo-tr",
        "version": 1,
        "issued": "2026-01-01",
        "expires": "2027-01-01",
        "threshold": 1,
        "administrators": [{"name": "a", "key": KEY_HEX}],
        "authorities": [{"party": "DE", "key": "cd" * 32, "valid_from": "2026-01-01"}],
        "nodes": [{"node": DE, "endpoint": "http://127.0.0.1:7401"}],
        "presidency": {"2026-H1": "CY"},
    }
    description.update(changes)
    return description


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        pytest.param({"version": True}, "'version' must be an integer", id="version-bool"),
        pytest.param({"version": "1"}, "'version' must be an integer", id="version-text"),
        pytest.param({"threshold": 1.5}, "'threshold' must be an integer", id="threshold-float"),
        pytest.param({"network": 7}, "'network' must be a string", id="network-int"),
        pytest.param({"authorities": [1]}, "authorities[0] must be an object", id="authority-int"),
        pytest.param({"nodes": {"a": 1}}, "'nodes' must be a list", id="nodes-object"),
        pytest.param(
            {"presidency": [["2026-H1", "CY"]]}, "must be an object", id="presidency-list"
        ),
        pytest.param({"presidency": {"2026-H1": 5}}, "must be a string", id="presidency-int"),
        pytest.param(
            {"administrators": [{"name": "a", "key": 1234}]},
            "'key' must be 32 bytes of hex",
            id="key-int",
        ),
        pytest.param({"issued": "\u00b2"}, "cannot read '²' as a time", id="superscript-time"),
        pytest.param({"issued": "9" * 20}, "after the year 9999", id="huge-time"),
        pytest.param({"issued": True}, "'issued' must be a date", id="bool-time"),
    ],
)
def test_roster_description_fields_are_checked_for_their_type(
    network: BuiltNetwork, tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    # int() took "1", True and 1.9 for numbers and raised OverflowError on 1e400;
    # a list where an entry should be an object was an AttributeError.
    _write(tmp_path / "d.json", json.dumps(_description(**changes)))
    _refused(_run(network, tmp_path, "roster", "propose", "d.json", "-o", "p"), words)


@pytest.mark.parametrize(("data", "words"), BAD_JSON)
def test_roster_description_that_is_not_plain_json_is_refused(
    network: BuiltNetwork, tmp_path: Path, data: str | bytes, words: str
) -> None:
    _write(tmp_path / "d.json", data)
    _refused(_run(network, tmp_path, "roster", "propose", "d.json", "-o", "p"), words)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param("\u00b2", "cannot read '²' as a time", id="superscript"),
        pytest.param("\u0661\u0662", "cannot read", id="arabic-indic"),
        pytest.param("9" * 20, "after the year 9999", id="huge"),
        pytest.param("9" * 5000, "after the year 9999", id="5000-digits"),
    ],
)
def test_times_typed_as_options_are_plain_digits_or_iso(
    network: BuiltNetwork, tmp_path: Path, value: str, words: str
) -> None:
    # str.isdigit() is true of "²", and int("²") raised ValueError: an internal error.
    home = _home_copy(network, tmp_path, FR)
    _refused(_run(network, tmp_path, "retention", "run", "--now", value, home=home), words)


def test_format_ms_shows_times_it_cannot_convert() -> None:
    assert format_ms(2**63 - 1) == f"{2**63 - 1} ms"


@pytest.mark.parametrize(
    ("stdin", "words"),
    [
        pytest.param(b"\x00\x00", "inside a frame header", id="short-header"),
        pytest.param(b"\x00\x00\x00\x10abc", "inside a frame", id="short-frame"),
        pytest.param(b"\xff\xff\xff\xff", "over the envelope limit", id="huge-length"),
    ],
)
def test_frames_on_stdin_that_do_not_add_up_are_refused(
    network: BuiltNetwork, tmp_path: Path, stdin: bytes, words: str
) -> None:
    home = _home_copy(network, tmp_path, FR)
    result = invoke(
        ["--home", str(home), "log", "ingest"],
        cwd=tmp_path,
        env={"ILO_NODE_PASSPHRASE": PASS},
        stdin=stdin,
    )
    _refused(result, words)


def test_garbage_frames_are_nacked_one_by_one(network: BuiltNetwork, tmp_path: Path) -> None:
    home = _home_copy(network, tmp_path, FR)
    frames = b"".join(len(f).to_bytes(4, "big") + f for f in (b"", b"\x93\x01", b"\xc1" * 9))
    result = invoke(
        ["--home", str(home), "log", "ingest"],
        cwd=tmp_path,
        env={"ILO_NODE_PASSPHRASE": PASS},
        stdin=frames,
    )
    # Every frame answered, none stored: not a success.
    check(result, ok=False)
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["nack"] * 3
    assert result.stderr.startswith("error: 3 of the 3 envelope(s) read were not stored")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"\x93\x01\xc4\x00\x92\xc4\x00\xc4\x00",
        b"\x93\xc3\xc4\x00\x90",
        NESTED.encode(),
    ],
)
def test_bundle_file_of_garbage_is_refused_whole(
    network: BuiltNetwork, tmp_path: Path, data: bytes
) -> None:
    home = _home_copy(network, tmp_path, FR)
    _write(tmp_path / "b.bundle", data)
    _refused(_run(network, tmp_path, "bundle", "import", "b.bundle", home=home), "bundle")


def test_bundle_with_envelopes_not_stored_is_not_a_success(
    network: BuiltNetwork, tmp_path: Path
) -> None:
    """An authentic bundle (signed by DE@TR's certified key) whose envelopes the node
    refuses: the import lists them and exits 1, it does not report 'imported'."""
    home = _home_copy(network, tmp_path, FR)
    exporter = Home(network.nodes[DE].path)
    _write(
        tmp_path / "b.bundle",
        make_bundle(
            network="devnet.ilo",
            exporter=DE,
            seed=exporter.signing_key(PASS.encode()).reveal(),
            created_ms=now_ms(),
            since={},
            envelopes=[b"not an envelope", b"\x93\x01"],
            documents=[],
        ),
    )
    result = _run(network, tmp_path, "bundle", "import", "b.bundle", home=home)
    check(result, ok=False)
    assert result.stderr.startswith(
        "error: b.bundle: 2 of 2 envelope(s) not stored and 0 trust document(s) refused"
    )
    assert result.stdout.startswith(f"bundle from {DE}: 2 envelope(s): 2 rejected\n")
    assert result.stdout.count("  not stored: ? rejected: ") == 2
    as_json = _run(network, tmp_path, "bundle", "import", "b.bundle", "--json", home=home)
    summary = json.loads(as_json.stdout)
    assert (summary["rejected"], len(summary["not_stored"])) == (2, 2)
    assert json_error(as_json)["type"] == "IncompleteError"


def test_passphrase_file_of_any_bytes_is_a_passphrase_or_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    for data in (b"\xff\xfe\x00", b"\n", b"x" * (64 * 1024 + 1)):
        path.write_bytes(data)
        path.chmod(0o600)
        try:
            value = resolve_passphrase(
                passphrase_file=path, environ={}, prompt=None, confirm=False, what="k"
            )
        except IloError as exc:
            assert exc.message and exc.advice
        else:
            assert value == data


# -- part two: generated files ------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _documents(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Files near the valid one (a field replaced by any value, one removed, one added)
    and files of anything at all."""
    names = sorted(valid)

    def replace(name: str, value: Any) -> bytes:
        return json.dumps({**valid, name: value}).encode()

    def drop(name: str) -> bytes:
        return json.dumps({k: v for k, v in valid.items() if k != name}).encode()

    return st.one_of(
        st.builds(replace, st.sampled_from(names), JSON_VALUES),
        st.builds(drop, st.sampled_from(names)),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
    )


Reader = Callable[[Path], object]


def _readers(network: BuiltNetwork) -> dict[str, tuple[Reader, dict[str, Any]]]:
    return {
        "heads": (read_heads_file, json.loads(_heads({KEY_HEX: 3}))),
        "content": (content_from_file, {"title": "t", "refs": [{"$bytes": "ab"}]}),
        "description": (lambda p: payload_from_description(p, 0), _description()),
        "public key": (read_public_record, _public_record(network)),
        "retention": (_retention_of, {"default": 30, "H3": 1}),
        "daemon": (_daemon_of, {"listen": "127.0.0.1:1", "fanout": 2, "peer_rate": 1.5}),
    }


def _retention_of(path: Path) -> object:
    shutil.copyfile(path, path.parent / "retention.json")
    return Home(path.parent).retention_policy()


def _daemon_of(path: Path) -> object:
    shutil.copyfile(path, path.parent / "daemon.json")
    return load_config(Home(path.parent))


@pytest.mark.parametrize(
    "kind", ["heads", "content", "description", "public key", "retention", "daemon"]
)
@_FILES
@given(data=st.data())
def test_generated_files_are_read_or_refused_with_a_project_error(
    network: BuiltNetwork, tmp_path_factory: pytest.TempPathFactory, kind: str, data: st.DataObject
) -> None:
    reader, valid = _readers(network)[kind]
    folder = tmp_path_factory.mktemp("gen")
    path = folder / "input.json"
    path.write_bytes(data.draw(_documents(valid)))
    try:
        reader(path)
    except IloError as exc:
        assert exc.message and exc.advice
        assert "Traceback" not in exc.message


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40) | st.from_regex(r"[0-9]{1,30}", fullmatch=True))
def test_generated_times_are_read_or_refused_with_a_project_error(text: str) -> None:
    try:
        parse_time(text, 0)
    except IloError as exc:
        assert exc.message


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300))
def test_generated_json_bytes_are_parsed_or_refused_with_a_project_error(data: bytes) -> None:
    try:
        parse_json(data, "input")
    except IloError as exc:
        assert exc.message


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_generated_frames_are_read_or_refused_with_a_project_error(data: bytes) -> None:
    import io

    try:
        for frame in read_frames(io.BytesIO(data), limit=1000):
            assert len(frame) <= 1000
    except IloError as exc:
        assert exc.message


COMMANDS: dict[str, Callable[[BuiltNetwork, Path], list[str]]] = {
    "content": lambda n, f: [
        "--home",
        str(n.nodes[DE].path),
        "publish",
        "incident_alert",
        "--file",
        str(f),
    ],
    "heads": lambda n, f: [
        "--home",
        str(n.nodes[DE].path),
        "bundle",
        "export",
        "--since",
        str(f),
        "-o",
        str(f.parent / "out"),
    ],
    "description": lambda n, f: ["roster", "propose", str(f), "-o", str(f.parent / "out")],
    "public key": lambda n, f: [
        "--home",
        str(n.base / "authorities" / "DE"),
        "cert",
        "issue",
        str(f),
        "-o",
        str(f.parent / "out"),
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(COMMANDS))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_files_given_to_commands_end_cleanly(
    network: BuiltNetwork, tmp_path_factory: pytest.TempPathFactory, kind: str, data: st.DataObject
) -> None:
    _, valid = _readers(network)[kind]
    folder = tmp_path_factory.mktemp("cmd")
    path = folder / "input.json"
    path.write_bytes(data.draw(_documents(valid)))
    result = invoke(COMMANDS[kind](network, path), cwd=folder, env={"ILO_NODE_PASSPHRASE": PASS})
    assert result.returncode in (0, 1, 2), result
    # Exit 2 is click's usage error, or ours (error: and hint:) for an input given wrongly.
    usage = result.returncode == 2 and "Usage: ilo-node" in result.stderr
    check(result, ok=result.returncode == 0, usage=usage)


def test_a_document_file_is_read_no_further_than_a_document_can_be(tmp_path: Path) -> None:
    from ilo_node.home.docfiles import MAX_DOCUMENT_FILE_BYTES, read_input
    from protocol.errors import UsageError

    huge = tmp_path / "huge.cert"
    with huge.open("wb") as handle:
        handle.truncate(MAX_DOCUMENT_FILE_BYTES + 1)
    with pytest.raises(UsageError, match="larger than a certificate file can be"):
        read_input(huge, "certificate")
    with pytest.raises(UsageError, match="is a directory"):
        read_input(tmp_path, "certificate")
