"""Fuzz target: signed key documents (rosters, certificates, revocations, prekey
announcements) from bytes, then their payloads. Only a ProtocolError may come out
of the decoders, only an IloError out of the roster chain and the trust state."""

from __future__ import annotations

import contextlib

from _harness import fuzz, instrumented

with instrumented():
    from keys.documents import Certificate, PrekeyAnnouncement, Revocation, Roster
    from protocol.errors import IloError, ProtocolError
    from protocol.signed import SignedDocument

PAYLOADS = {
    "roster": Roster,
    "certificate": Certificate,
    "revocation": Revocation,
    "prekey": PrekeyAnnouncement,
}


def test_one_input(data: bytes) -> None:
    try:
        document = SignedDocument.from_bytes(data)
    except ProtocolError:
        return
    kind = PAYLOADS.get(document.doc_type)
    if kind is None:
        return
    with contextlib.suppress(IloError):
        kind.from_document(document)


if __name__ == "__main__":
    fuzz(test_one_input)
