"""Errors of the running node, its home and its network (part of the one ``IloError`` tree).

``protocol/errors.py`` holds the root and the protocol's errors, ``keys/errors.py``
the trust layer's; these are the node layer's::

    IloError
    ├── HomeError          a node home is missing, of another role, or unreadable
    ├── NodeError          a node operation cannot be done (writer lock, no passphrase…)
    ├── StoreError         the node database cannot be used
    ├── AuditFailure       a log does not match its own signed history
    ├── BundleError        a bundle file was refused whole
    ├── BackupError        a backup cannot be taken, or refused before it is restored
    ├── TransportError     a peer is unreachable or answered garbage
    ├── AuthError          a peer request was refused (carries its HTTP status)
    ├── ClientError        the running node refused a command through the local API
    │   ├── NotFoundError  no message has the id asked for (exit code 3)
    │   ├── NodeUnreachableError  the officer's node cannot be reached (exit code 4)
    │   └── NodeNotRunningError   no node runs in the home asked to stop (exit code 5)
    ├── ReportError        a half-year report does not verify
    │   └── PdfUnavailableError  WeasyPrint's system libraries are missing here
    ├── IncompleteError    a command did only part of what was asked (its output lists it)
    └── UsageError (protocol/errors.py)
        └── InputError     a file or a local API body is not of the form asked for

Each class carries a default advice; raisers give a more specific one where
they know better.
"""

from __future__ import annotations

from protocol.errors import IloError, UsageError

__all__ = [
    "AuditFailure",
    "AuthError",
    "BackupError",
    "BundleError",
    "ClientError",
    "HomeError",
    "IncompleteError",
    "InputError",
    "NodeError",
    "NodeNotRunningError",
    "NodeUnreachableError",
    "NotFoundError",
    "PdfUnavailableError",
    "ReportError",
    "StoreError",
    "TransportError",
]


class HomeError(IloError):
    default_advice = (
        "Check --home (or ILO_NODE_HOME); create an identity with 'ilo-node keys init'."
    )


class NodeError(IloError):
    default_advice = "See 'ilo-node status' and docs/operator-guide.md."


class StoreError(IloError):
    default_advice = (
        "The node database could not be used; check the disk and file permissions. Do not "
        "edit node.db by hand: 'ilo-node log verify' will report any change."
    )


class AuditFailure(IloError):
    default_advice = (
        "The node's log does not match its own signed history: treat this node as "
        "compromised or corrupted, keep a copy of node.db for investigation, and report it."
    )


class BundleError(IloError):
    default_advice = (
        "The bundle was refused whole and nothing from it was stored. Ask the exporting "
        "node for a fresh bundle; if this one was altered on the way, report it."
    )


class BackupError(IloError):
    """A backup cannot be taken where asked, or a backup is refused before anything of it
    is restored (incomplete, altered, or for a newer ilo-node)."""

    default_advice = (
        "Nothing was changed. Take a new backup ('ilo-node backup DIR'), or restore an "
        "older one that is whole."
    )


class TransportError(IloError):
    default_advice = "The peer is down, unreachable or too slow; gossip retries with backoff."


class AuthError(IloError):
    """A peer request was refused; ``status`` is the HTTP status to answer with."""

    default_advice = "Check that the peer is in the roster, certified, and its clock is right."

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class ClientError(IloError):
    """The running node refused what the command asked of it."""

    default_advice = "See the node's log ('HOME/daemon.log' or the service journal)."


class NotFoundError(ClientError):
    """No message has the id (or id prefix) asked for."""

    exit_code = 3
    default_advice = "List what this node holds with 'ilo-node inbox --all' or 'ilo-node search'."


class NodeUnreachableError(ClientError):
    """The node an officer works through cannot be reached (down, or the network)."""

    exit_code = 4
    default_advice = (
        "Check that the node runs ('ilo-node status' on it) and that this machine reaches "
        "its endpoint; what you signed waits in the outbox and is sent by the next command."
    )


class NodeNotRunningError(ClientError):
    """``ilo-node stop`` found no node running in the home (nothing was stopped)."""

    exit_code = 5
    default_advice = "Nothing to stop; 'ilo-node status' shows what the home holds."


class InputError(UsageError):
    """A file given to the CLI, or a local API body, is not of the form asked for
    (``ilo_node.formats.jsonfile`` raises it; the local API answers it with 400)."""

    default_advice = "Check the file or request against docs/operator-guide.md and docs/api.md."


class ReportError(IloError):
    """A half-year report that cannot be built yet, does not verify, or cannot be
    rendered here."""

    default_advice = (
        "Do not use this report: ask the Presidency for the report as built, and compare "
        "it with this one."
    )


class PdfUnavailableError(ReportError):
    """The PDF cannot be made on this machine (WeasyPrint's system libraries)."""


class IncompleteError(IloError):
    """A command did part of what it was asked and was refused the rest: its output lists
    what was done, the message what was not (the CLI exits 1, never reports success)."""

    default_advice = "What was done is listed above; the message says what was not, and why."
