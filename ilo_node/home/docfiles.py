"""Files an operator names on the command line: read them, with errors that name the file.

A missing or unreadable file, or one that is not the signed document it should
be, is the operator's mistake rather than an attack, so each is a
``UsageError`` that says which file and what to check.
"""

from __future__ import annotations

from pathlib import Path

from keys.documents import Roster
from protocol.errors import ProtocolError, UsageError
from protocol.signed import SignedDocument

__all__ = ["read_input", "read_roster_file", "read_signed_file"]


def read_input(path: Path, what: str) -> bytes:
    """The bytes of ``path``; ``what`` names the kind of file in the error."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such {what} file: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def read_signed_file(path: Path, expected: str | None = None) -> SignedDocument:
    """A signed document file (of type ``expected`` if given); signatures unchecked."""
    try:
        return SignedDocument.from_bytes(read_input(path, "document"), expected)
    except ProtocolError as exc:
        raise UsageError(
            f"{path} is not a valid {expected or 'signed'} document: {exc.message}",
            "Check that you passed the file ilo-node wrote, unmodified.",
        ) from None


def read_roster_file(path: Path) -> tuple[SignedDocument, Roster]:
    """A roster file and its payload, whether or not enough administrators signed it."""
    document = read_signed_file(path, "roster")
    try:
        return document, Roster.from_document(document)
    except ProtocolError as exc:
        raise UsageError(f"{path} is not a valid roster: {exc.message}") from None
