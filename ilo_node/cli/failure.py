"""How a run that fails is reported: as text for people, or as one JSON object for scripts.

Every way a command can fail (a project error, a click usage error, an abort, a
database that cannot be read, a bug) becomes one :class:`Failure`: a message, the
advice an operator can act on, and the exit status. :class:`~ilo_node.cli.app.IloGroup`
prints it, once for every command:

* as text, on stderr: ``error: ...`` and ``hint: ...`` (click's usage errors as click
  shows them);
* when ``--json`` is on the command line (:func:`asks_for_json`), as one line on stderr,
  the last one the run writes there::

      {"error": {"type": "NotFoundError", "message": "...", "advice": "...", "exit_code": 3}}

  Standard output then holds only what the command did before it failed (for a command
  that stops part-way, its JSON result), or nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

import click

from ilo_node.errors import StoreError
from protocol.errors import IloError

__all__ = ["Failure", "asks_for_json", "failure_of", "report_failure"]

#: What an internal error advises; it names the exception's class, never its text,
#: which may hold anything.
_BUG = "This is a bug in ilo-node; run again with ILO_NODE_DEBUG=1 and report the output."


@dataclass(frozen=True)
class Failure:
    #: The class of a project error (``NotFoundError``), ``UsageError`` for click's usage
    #: errors too, ``Aborted``, or ``InternalError``.
    type: str
    message: str
    advice: str
    exit_code: int

    def to_json(self) -> str:
        body = {
            "type": self.type,
            "message": self.message,
            "advice": self.advice,
            "exit_code": self.exit_code,
        }
        return json.dumps({"error": body}, ensure_ascii=False, sort_keys=True)


def asks_for_json(args: Sequence[str]) -> bool:
    """Whether the command line asks for JSON: ``--json`` anywhere before a ``--``.

    Read from the words themselves, not from parsed options, so that a command line
    click refuses (a usage error, found before any option is set) still gets its error
    as JSON; a command that has no ``--json`` gets its usage error as JSON too.
    """
    for word in args:
        if word == "--":
            return False
        if word == "--json":
            return True
    return False


def failure_of(exc: BaseException) -> Failure:
    """The one way ``exc`` is reported."""
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        said = "aborted" if isinstance(exc, click.exceptions.Abort) else "interrupted"
        return Failure("Aborted", said, "Stopped before the command ended: run it again.", 130)
    if isinstance(exc, click.ClickException):
        ctx = getattr(exc, "ctx", None)
        where = f"'{ctx.command_path} --help'" if ctx is not None else "'ilo-node --help'"
        kind = "UsageError" if isinstance(exc, click.UsageError) else "ClickError"
        return Failure(kind, exc.format_message(), f"See {where}.", exc.exit_code)
    if isinstance(exc, IloError):
        return Failure(type(exc).__name__, exc.message, exc.advice, exc.exit_code)
    if isinstance(exc, sqlite3.DatabaseError):
        # Not a bug of ours but a database someone changed, or a disk that failed.
        store = StoreError(f"the node database could not be read: {exc}")
        return Failure("StoreError", store.message, store.advice, 1)
    return Failure("InternalError", f"internal error: {type(exc).__name__}", _BUG, 70)


def report_failure(exc: BaseException, as_json: bool) -> int:
    """Print how the run failed, on stderr; returns the exit status."""
    failure = failure_of(exc)
    if failure.type == "InternalError" and os.environ.get("ILO_NODE_DEBUG"):
        traceback.print_exception(exc)
    if as_json:
        click.echo(failure.to_json(), err=True)
    elif isinstance(exc, click.ClickException):
        exc.show()
    elif isinstance(exc, IloError):
        click.echo(exc.diagnostics(), err=True)
    elif failure.type == "InternalError":
        click.echo(f"{failure.message}. {failure.advice}", err=True)
    elif failure.type == "Aborted":
        click.echo(failure.message, err=True)
    else:
        click.echo(f"error: {failure.message}\nhint: {failure.advice}", err=True)
    return failure.exit_code
