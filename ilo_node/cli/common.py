"""What every command module shares: the home, the passphrase, the client, output, and the
options of the commands that certify a key."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ilo_node.client import NodeClient, connect
from ilo_node.home.home import Home
from ilo_node.home.keyfiles import PassphraseFor, resolve_passphrase
from protocol.errors import UsageError

__all__ = [
    "FILE",
    "certificate_options",
    "emit",
    "envelope_id",
    "home_of",
    "node_client",
    "passphrase_for",
    "passphrases",
]

#: A file argument or option (never a directory), as a ``Path``.
FILE = click.Path(dir_okay=False, path_type=Path)

_Command = TypeVar("_Command", bound=Callable[..., Any])


def home_of(ctx: click.Context) -> Home:
    return Home(ctx.obj["home"])


def _prompt(what: str, confirm: bool) -> str:
    value: str = click.prompt(
        f"Passphrase for {what}", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value


def passphrase_for(ctx: click.Context, what: str, confirm: bool = False) -> bytes:
    """From --passphrase-file, else $ILO_NODE_PASSPHRASE, else a prompt on a terminal."""
    interactive = sys.stdin is not None and sys.stdin.isatty()
    return resolve_passphrase(
        passphrase_file=ctx.obj.get("passphrase_file"),
        environ=os.environ,
        prompt=_prompt if interactive else None,
        confirm=confirm,
        what=what,
    )


def passphrases(ctx: click.Context, confirm: bool = False) -> PassphraseFor:
    """``passphrase_for`` as the library takes it: asked for when the key is needed."""
    return lambda what: passphrase_for(ctx, what, confirm=confirm)


def node_client(ctx: click.Context) -> NodeClient:
    """The node of --home: the running one if it answers, else the home itself; the
    passphrase is asked for only if the command needs the node's keys."""
    home = home_of(ctx)
    config = home.require_role("node")
    return connect(home, lambda: passphrase_for(ctx, f"the {config.label} keys"))


def emit(data: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(data, indent=1, sort_keys=True) if as_json else text)


def certificate_options(command: _Command) -> _Command:
    """PUBLIC_FILE, -o, --valid-from and --valid-days, as ``cert issue`` and ``officer add``
    both take them."""
    for option in reversed(
        (
            click.argument("public_file", type=FILE),
            click.option("-o", "--output", type=FILE, required=True),
            click.option("--valid-from", default="now", show_default=True),
            click.option(
                "--valid-days", type=click.IntRange(1, 3650), default=365, show_default=True
            ),
        )
    ):
        command = option(command)
    return command


def envelope_id(text: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{text!r} is not an envelope id (64 hex digits)") from None
    if len(value) != 32:
        raise UsageError(f"{text!r} is not an envelope id (64 hex digits)")
    return value
