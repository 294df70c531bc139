"""Every command's ``--help`` works and ends with examples, and every example is a
command line that ``ilo-node`` would accept.

The command tree is walked from ``ilo_node.cli.app.cli``. An example is split as a
shell would split it (``shlex``): a ``\\`` at the end of a line continues it, and a
``# comment`` or what follows a pipe or a redirection is the shell's, not ilo-node's.
It is then parsed by click as ``ilo-node`` parses its arguments, without invoking
anything: each subcommand must exist, each option must be one of the command it is
given to (``--home`` and ``--passphrase-file`` before the subcommand), and the command
reached must get its required options and arguments, valid choices and numbers, and
no argument too many.

The parse is strict, not ``resilient_parsing``: click's parser drops an unknown option
when it parses resiliently, and a misspelled option is the mistake to catch. It runs in
an empty directory, so that no path in an example names anything that exists there.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from ilo_node.cli.app import cli
from tests.support.clirun import invoke

#: After one of these the rest of the line is the shell's (``>``, ``<``, ``|``, ``&&``).
#: A parenthesis is split off too but stays a word, so "(asks for each field)" fails.
_SHELL_OPERATORS = frozenset(";<>|&")


def _walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _walk(command, (*path, name))


_TREE = dict(_walk(cli))
GROUPS = {p: c for p, c in _TREE.items() if isinstance(c, click.Group)}
LEAVES = {p: c for p, c in _TREE.items() if not isinstance(c, click.Group)}


def _help(path: tuple[str, ...], tmp_path: Path) -> str:
    ran = invoke([*path, "--help"], cwd=tmp_path)
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout.startswith(" ".join(("Usage:", "ilo-node", *path, "")))
    return ran.stdout


def _listed(help_text: str) -> set[str]:
    """The command names a group's help lists under 'Commands:'."""
    section = help_text.split("\nCommands:\n", 1)[1]
    return set(re.findall(r"^  (\S+)", section, re.MULTILINE))


def examples(help_text: str) -> tuple[str, list[str]]:
    """The heading ('Example:' or 'Examples:') and the lines under it, up to the next
    blank line; a line ending in a backslash is joined with the next."""
    lines = help_text.splitlines()
    heads = [i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")]
    assert len(heads) == 1, f"want one examples block, found {len(heads)}"
    assert "Options:" not in lines[: heads[0]], "the examples come before the options"
    found: list[str] = []
    pending = ""
    for line in lines[heads[0] + 1 :]:
        text = line.strip()
        if not text:
            break
        if text.endswith("\\"):
            pending += text[:-1]
            continue
        found.append(pending + text)
        pending = ""
    assert not pending, "the last example ends with a backslash"
    assert found, "an empty examples block"
    return lines[heads[0]].strip(), found


def words(line: str) -> list[str]:
    """``line`` split as a shell would, up to its first operator (a pipe, a redirection)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    result: list[str] = []
    for word in lexer:
        if word and set(word) <= _SHELL_OPERATORS:
            break
        result.append(word)
    return result


def parse(line: str) -> tuple[str, ...]:
    """Parse one example as ``ilo-node`` would, invoking nothing; its command path.

    Each group on the way (``ilo-node`` itself, then e.g. ``keys``) is parsed by its own
    option parser, which refuses an option the group does not have and stops at the
    subcommand's name, found with ``resolve_command``; the command reached gets the rest,
    as ``Group.invoke`` would give it, in ``make_context``. Raises AssertionError with
    click's message.
    """
    argv = words(line)
    if argv[:1] != ["ilo-node"]:
        raise AssertionError(f"{line!r} does not start with ilo-node")
    command: click.Command = cli
    name = "ilo-node"
    args = argv[1:]
    parent: click.Context | None = None
    path: tuple[str, ...] = ()
    try:
        while isinstance(command, click.Group):
            ctx = click.Context(command, info_name=name, parent=parent)
            _, rest, _ = command.make_parser(ctx).parse_args(list(args))
            if not rest:
                raise AssertionError(f"{line!r} names no command after {name}")
            found, sub, args = command.resolve_command(ctx, rest)
            assert found is not None and sub is not None
            command, name, parent, path = sub, found, ctx, (*path, found)
        command.make_context(name, list(args), parent=parent)
    except click.UsageError as exc:
        raise AssertionError(f"{line!r}: {exc.format_message()}") from None
    return path


def test_parsing_runs_no_code_of_ours() -> None:
    """What makes ``parse`` safe: no parameter prompts, and only --help and --version
    (eager, and in no example) have callbacks."""
    for command in (cli, *_TREE.values()):
        for param in command.params:
            assert not getattr(param, "prompt", None), param
            assert param.callback is None or param.is_eager, param


def test_the_walk_reaches_nested_commands() -> None:
    assert {("keys",), ("roster",), ("cert",), ("log",), ("bundle",)} <= set(GROUPS)
    assert {("keys", "init"), ("log", "verify"), ("bundle", "export"), ("demo",)} <= set(LEAVES)


def test_top_level_help_lists_every_command(tmp_path: Path) -> None:
    expected = {name for name, c in cli.commands.items() if not c.hidden}
    assert len(expected) >= 22
    assert _listed(_help((), tmp_path)) == expected


@pytest.mark.parametrize("path", sorted(GROUPS), ids=" ".join)
def test_group_help_lists_its_commands(path: tuple[str, ...], tmp_path: Path) -> None:
    group = GROUPS[path]
    assert isinstance(group, click.Group)
    assert _listed(_help(path, tmp_path)) == {
        name for name, c in group.commands.items() if not c.hidden
    }


@pytest.mark.parametrize("path", sorted(LEAVES), ids=" ".join)
def test_help_ends_with_examples_that_parse(
    path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heading, found = examples(_help(path, tmp_path))
    assert 1 <= len(found) <= 3, f"{len(found)} examples; give one to three"
    assert heading == ("Example:" if len(found) == 1 else "Examples:")
    monkeypatch.chdir(tmp_path)
    paths = [parse(line) for line in found]
    assert path in paths, f"no example of {' '.join(path)} itself: {found}"


# -- the checker itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("ilo-node --home node-DE keys show --json", ("keys", "show")),
        ("ilo-node --home=node-DE --passphrase-file p.txt run", ("run",)),
        ("ilo-node template incident_alert --json > alert.json", ("template",)),
        ("ilo-node --home node-DE log ingest --batch 256 <in.bin", ("log", "ingest")),
        ("ilo-node --home node-DE roster show --json | jq .nodes", ("roster", "show")),
        ("ilo-node --home node-DE keys rotate --prekeys-only  # daily", ("keys", "rotate")),
        ("ilo-node search 'issuing_country:IT' --kind forged_document_alert", ("search",)),
        ("ilo-node retract 3f9a1c0e --reason 'wrong network; sorry'", ("retract",)),
    ],
)
def test_parse_accepts(
    line: str, path: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse(line) == path


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("ilo-nodes status", "does not start with ilo-node"),
        ("ilo-node keys shw", "No such command"),
        ("ilo-node keys", "names no command"),
        ("ilo-node keys show --jsn", "No such option"),
        ("ilo-node keys show --home node-DE", "No such option"),  # --home goes first
        ("ilo-node --hom node-DE keys show", "No such option"),
        ("ilo-node cert issue node.pub", "Missing option"),
        ("ilo-node cert import", "Missing argument"),
        ("ilo-node log consistency 10", "Missing argument"),
        ("ilo-node keys show extra", "unexpected extra argument"),
        ("ilo-node publish incident_alert   (asks for each field)", "unexpected extra"),
        ("ilo-node template incident", "Invalid value"),
        ("ilo-node read --limit 0", "Invalid value"),
        ("ilo-node inbox --since", "requires an argument"),
    ],
)
def test_parse_refuses(
    line: str, why: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match=why):
        parse(line)


def test_examples_joins_continued_lines() -> None:
    text = (
        "Usage: ilo-node x [OPTIONS]\n\n  Text.\n\n  Examples:\n    ilo-node a \\\n"
        "        --b c\n    ilo-node d\n\nOptions:\n  -h, --help  Show this message.\n"
    )
    assert examples(text) == ("Examples:", ["ilo-node a --b c", "ilo-node d"])
