"""What every command module shares: the home, the passphrase, the client, output, and the
options of the commands that certify a key."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ilo_node.client import NodeClient, connect
from ilo_node.formats.timefmt import format_ms
from ilo_node.home.authority import CertificateOrder, issue_certificate
from ilo_node.home.home import Home, now_ms
from ilo_node.home.keyfiles import PASSPHRASE_ENV, PassphraseFor, resolve_passphrase
from keys.documents import Certificate

__all__ = [
    "FILE",
    "certify_command",
    "emit",
    "home_of",
    "json_option",
    "node_client",
    "passphrase_for",
    "passphrases",
]

#: A file argument or option (never a directory), as a ``Path``.
FILE = click.Path(dir_okay=False, path_type=Path)


def home_of(ctx: click.Context) -> Home:
    return Home(ctx.obj["home"])


def _prompt(what: str, confirm: bool) -> str:
    value: str = click.prompt(
        f"Passphrase for {what}", hide_input=True, confirmation_prompt=confirm, err=True
    )
    return value


def passphrase_for(ctx: click.Context, what: str, confirm: bool = False) -> bytes:
    """From --passphrase-file, else $ILO_NODE_PASSPHRASE, else a prompt on a terminal.

    Read once per command; the environment variable is then removed from this
    process, so that no child it starts (a pool of log verify workers, a tool an
    operator runs from it) inherits the passphrase.
    """
    cached = ctx.obj.get("passphrase")
    if isinstance(cached, bytes):
        return cached
    interactive = sys.stdin is not None and sys.stdin.isatty()
    value = resolve_passphrase(
        passphrase_file=ctx.obj.get("passphrase_file"),
        environ=os.environ,
        prompt=_prompt if interactive else None,
        confirm=confirm,
        what=what,
    )
    os.environ.pop(PASSPHRASE_ENV, None)
    ctx.obj["passphrase"] = value
    return value


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


#: ``--json`` of a command that prints (its value is the ``as_json`` argument). Errors
#: are JSON too when it is given (``ilo_node.cli.failure``).
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object, for scripts (errors too)."
)


def certify_command(
    group: click.Group, name: str, role: str, done: Callable[[Certificate, Path], str]
) -> Callable[[Callable[..., None]], click.Command]:
    """``cert issue`` and ``officer add``: the same options and the same call, for a node
    or an officer key; the decorated function only gives the help text."""

    def make(documented: Callable[..., None]) -> click.Command:
        @group.command(name, help=documented.__doc__)
        @click.argument("public_file", type=FILE)
        @click.option("-o", "--output", type=FILE, required=True)
        @click.option("--valid-from", default="now", show_default=True)
        @click.option("--valid-days", type=click.IntRange(1, 3650), default=365, show_default=True)
        @json_option
        @click.pass_context
        def command(
            ctx: click.Context,
            public_file: Path,
            output: Path,
            valid_from: str,
            valid_days: int,
            as_json: bool,
        ) -> None:
            order = CertificateOrder(public_file, role, valid_from, valid_days, output)
            certificate = issue_certificate(home_of(ctx), order, passphrases(ctx), now_ms())
            emit(_certificate_record(certificate, output), as_json, done(certificate, output))

        return command

    return make


def _certificate_record(certificate: Certificate, output: Path) -> dict[str, Any]:
    """A certificate issued, as ``--json`` prints it."""
    return {
        "output": str(output),
        "node": certificate.node,
        "role": certificate.role,
        "officer": certificate.officer,
        "key": certificate.key.hex(),
        "valid_from": format_ms(certificate.valid_from_ms),
        "valid_until": format_ms(certificate.valid_until_ms),
        "digest": certificate.document.digest.hex(),
    }
