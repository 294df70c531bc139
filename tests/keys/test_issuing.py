"""What an authority may certify and revoke (keys.issuing), and importing the result into a
home (ilo_node.home.imports), without processes or passphrases."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ilo_node.home.home import Home, HomeConfig
from ilo_node.home.imports import import_files
from keys.errors import CertificateError
from keys.issuing import (
    certificate_payload,
    certificate_subject,
    check_revocable,
    revocation_payload,
    sign_certificate,
    sign_revocation,
)
from keys.roster import RosterChain
from keys.trust import TrustState
from protocol.errors import UsageError
from tests.support import trustkit
from tests.support.trustkit import DAY, NETWORK, T0, pub, seed


def _record(**over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "format": "ilo-node-public-key",
        "version": 1,
        "network": NETWORK,
        "role": "node",
        "key": pub("node DE@TR").hex(),
        "node": "DE@TR",
    }
    record.update(over)
    return record


def _trust() -> TrustState:
    return TrustState(RosterChain.from_history([trustkit.roster()]))


def test_node_certificate_is_accepted_by_a_node() -> None:
    subject = certificate_subject(NETWORK, "DE", _record(), "node", "de.pub")
    payload = certificate_payload(NETWORK, subject, T0 - DAY, 30, T0 - DAY)
    data, certificate = sign_certificate(payload, seed("authority DE"), "de.pub")
    assert certificate.valid_until_ms - certificate.valid_from_ms == 30 * DAY
    assert _trust().add_certificate(data).key == pub("node DE@TR")


@pytest.mark.parametrize(
    ("over", "role", "message"),
    [
        ({"node": "FR@TR"}, "node", "de.pub is for FR@TR; the DE authority certifies only DE"),
        ({"network": "other"}, "node", "de.pub is for network 'other'"),
        ({}, "officer", "de.pub is the key of a node, not of a officer"),
        ({"role": "admin"}, "node", "de.pub is the key of a admin, not of a node"),
    ],
    ids=["other-party", "other-network", "role-mismatch", "not-certifiable"],
)
def test_subject_refused(over: dict[str, Any], role: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        certificate_subject(NETWORK, "DE", _record(**over), role, "de.pub")


def test_officer_certificate_needs_the_officer_name() -> None:
    record = _record(role="officer", key=pub("officer").hex())
    subject = certificate_subject(NETWORK, "DE", record, "officer", "o.pub")
    payload = certificate_payload(NETWORK, subject, T0, 30, T0)
    with pytest.raises(UsageError, match=re.escape("cannot certify o.pub")):
        sign_certificate(payload, seed("authority DE"), "o.pub")
    named = certificate_subject(NETWORK, "DE", {**record, "name": "k.b"}, "officer", "o.pub")
    _, certificate = sign_certificate(
        certificate_payload(NETWORK, named, T0, 30, T0), seed("authority DE"), "o.pub"
    )
    assert certificate.officer == "k.b"


def test_revocation_only_of_own_party() -> None:
    with pytest.raises(UsageError, match="the DE authority can only revoke DE keys"):
        check_revocable("DE", "FR@TR")
    check_revocable("DE", "DE@TR")
    payload = revocation_payload(NETWORK, "DE@TR", pub("node DE@TR"), T0, T0, "stolen")
    data, revocation = sign_revocation(payload, seed("authority DE"))
    assert revocation.compromised_at_ms == T0
    trust = _trust()
    trust.add_certificate(trustkit.certificate())
    assert trust.add_revocation(data).node == "DE@TR"


def test_import_stops_at_the_first_refused_file(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create(HomeConfig(role="node", network=NETWORK, node="FR@TR"))
    home.save_roster(trustkit.roster(), 1)
    files = [tmp_path / name for name in ("good.cert", "forged.cert", "later.cert")]
    files[0].write_bytes(trustkit.certificate())
    files[1].write_bytes(trustkit.certificate(signer="authority FR"))
    files[2].write_bytes(trustkit.certificate(node="FR@TR", key_name="node FR@TR"))
    result = import_files(home, files, T0)
    assert [i.file for i in result.imported] == files[:1]
    assert isinstance(result.failure, CertificateError)
    assert len(list(home.certificate_dir.glob("*.cert"))) == 1
