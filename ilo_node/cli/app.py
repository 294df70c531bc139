"""The ``ilo-node`` command line: a thin layer that calls into the library.

Every error the project raises carries its own advice (``IloError.diagnostics``);
this module prints it and exits non-zero. No traceback reaches a user: an
unexpected exception is reported in one line (set ``ILO_NODE_DEBUG=1`` to see
the traceback when reporting a bug).

That handling lives in the group itself (:class:`IloGroup`), so that the installed
``ilo-node`` and ``click.testing.CliRunner().invoke(cli, ...)`` end every run the same
way.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from ilo_node import __version__
from ilo_node.cli.backup import backup, restore
from ilo_node.cli.bundle import bundle
from ilo_node.cli.cert import cert
from ilo_node.cli.contribution import contribution
from ilo_node.cli.desk import correct, inbox, retract, search, show
from ilo_node.cli.failure import asks_for_json, report_failure
from ilo_node.cli.keys import keys
from ilo_node.cli.log import log
from ilo_node.cli.messages import publish, read
from ilo_node.cli.officer import countersign, officer, revoke, withdraw
from ilo_node.cli.report import report
from ilo_node.cli.retention import retention
from ilo_node.cli.roster import roster
from ilo_node.cli.run import run, stop
from ilo_node.cli.service import service
from ilo_node.cli.status import status
from ilo_node.cli.tables import print_table
from ilo_node.cli.template import template
from protocol.errors import IloError

__all__ = ["IloGroup", "cli", "main"]


def default_home() -> Path:
    env = os.environ.get("ILO_NODE_HOME")
    return Path(env) if env else Path.home() / ".ilo-node"


class IloGroup(click.Group):
    """The top-level group: ``main`` ends every run as a user should see it.

    A project error (:class:`IloError`) prints its diagnostics (``error: ...`` and
    ``hint: ...``) on stderr and exits with its ``exit_code`` (1; 2 for a usage error,
    3 for an id not found, 4 for a node that cannot be reached); a click usage error
    exits 2 as click shows it; an abort or an interrupt exits 130; any other exception
    is an internal error, one line, exit 70 (the traceback only with ``ILO_NODE_DEBUG``
    set). With ``--json`` on the command line each of them is one JSON object on stderr
    instead (:mod:`ilo_node.cli.failure`). With ``standalone_mode=False`` it is click's
    own ``main``: errors propagate to the caller.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        words = list(args) if args is not None else sys.argv[1:]
        try:
            code = super().main(words, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as exc:  # the last line of defence: never a traceback to a user
            sys.exit(report_failure(exc, asks_for_json(words)))
        except KeyboardInterrupt as exc:
            sys.exit(report_failure(exc, asks_for_json(words)))
        sys.exit(code if isinstance(code, int) else 0)


@click.group("ilo-node", cls=IloGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ilo-node")
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Node home directory [default: $ILO_NODE_HOME, else ~/.ilo-node].",
)
@click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Read the key passphrase from this file (mode 0600) instead of "
    "$ILO_NODE_PASSPHRASE or a prompt.",
)
@click.pass_context
def cli(ctx: click.Context, home: Path | None, passphrase_file: Path | None) -> None:
    """ilo-node: signed, encrypted, verifiable information exchange for ILO networks.

    Each command's --help ends with examples, e.g. 'ilo-node keys init --help'.
    """
    ctx.ensure_object(dict)
    ctx.obj["home"] = home if home is not None else default_home()
    ctx.obj["home_explicit"] = home is not None
    ctx.obj["passphrase_file"] = passphrase_file


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def demo(as_json: bool) -> None:
    """Seal, relay and open an envelope of every message kind, locally, in memory.

    Needs no home.

    \b
    Examples:
      ilo-node demo
      ilo-node demo --json
    """
    from ilo_node.dev.demo import run_demo

    if not run_demo(as_json=as_json):
        raise IloError(
            "the demo did not end as it should (the FAILED lines above say where)",
            "This is a bug in ilo-node: report the output.",
        )


@cli.command()
@click.option(
    "--duration",
    type=click.FloatRange(5, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to run before stopping by itself.",
)
@click.option("--json", "as_json", is_flag=True, help="End with one JSON object.")
@click.pass_context
def devnet(ctx: click.Context, duration: float, as_json: bool) -> None:
    """Run a local network of 7 nodes on loopback; officers publish every kind, retract
    and correct; watch it spread, then verify every log and the half-year report.

    Devnet publishes by itself: nothing to type while it runs (Ctrl-C stops it). The
    node homes are made in a new temporary directory, removed at the end (on Ctrl-C
    and on an error too), or in --home (new or empty), which keeps them and the report.

    \b
    Examples:
      ilo-node devnet
      ilo-node --home /tmp/devnet devnet --duration 120 --json
    """
    from ilo_node.dev.devnet import run_devnet

    home = ctx.obj["home"] if ctx.obj["home_explicit"] else None
    run_devnet(home, duration, as_json, lambda h, rows: print_table(h, rows, empty="no nodes"))


_KEY_COMMANDS = (keys, roster, cert, officer, revoke, countersign, withdraw)
_NODE_COMMANDS = (
    publish,
    read,
    status,
    log,
    retention,
    run,
    stop,
    service,
    bundle,
    report,
    backup,
    restore,
)
_OFFICER_COMMANDS = (inbox, show, search, retract, correct, contribution)
_OFFLINE_COMMANDS = (template,)
for _command in (*_KEY_COMMANDS, *_NODE_COMMANDS, *_OFFICER_COMMANDS, *_OFFLINE_COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """The ``ilo-node`` entry point (``argv`` defaults to ``sys.argv[1:]``); never returns."""
    cli.main(args=argv, prog_name="ilo-node")
