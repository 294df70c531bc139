"""Files an operator names on the command line: read them, with errors that name the file.

A missing or unreadable file, or one that is not the signed document it should
be, is the operator's mistake rather than an attack, so each is a
``UsageError`` that says which file and what to check.
"""

from __future__ import annotations

from pathlib import Path

from keys.documents import Roster
from protocol.errors import ProtocolError, UsageError
from protocol.limits import DEFAULT_LIMITS
from protocol.signed import SignedDocument

__all__ = ["read_input", "read_roster_file", "read_signed_file"]


#: Largest signed document a command reads (what any decoder of one would accept).
MAX_DOCUMENT_FILE_BYTES = DEFAULT_LIMITS.max_envelope_bytes


def read_input(path: Path, what: str, limit: int = MAX_DOCUMENT_FILE_BYTES) -> bytes:
    """The bytes of ``path``, at most ``limit`` (read no further); ``what`` names the
    kind of file in the error."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"no such {what} file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what} file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise UsageError(f"{path} is larger than a {what} file can be ({limit} bytes)")
    return data


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
