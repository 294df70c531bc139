"""The bundle reader (ilo_node/home/bundle.py): the order of its checks and the type of
every field. Each negative test is named for the rule its bundle breaks; bundles with
any body are made by signing that body with a certified node key, so that the rule
under test, not the signature, is what refuses them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilo_node.errors import BundleError
from ilo_node.home.bundle import DOMAIN, Bundle, make_bundle, read_bundle
from keys.documents import Certificate
from keys.keystore import generate_signing_key
from keys.trust import TrustState
from protocol.canonical import decode_canonical, encode_canonical
from protocol.crypto import sign_with, signing_key
from protocol.signed import SignedDocument
from tests.support.memkeys import Built, build_in_memory

DE, FR = "DE@TR", "FR@TR"
NOW = 1_800_000_000_000
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_in_memory(tmp_path_factory.mktemp("bundles") / "net", ["COM@EU", DE, FR])


@pytest.fixture
def trust(built: Built) -> TrustState:
    """FR's trust state: it holds DE's certificate."""
    return built.network.nodes[FR].trust_state()


def _now(built: Built) -> int:
    return built.network.nodes[FR].chain().current.issued_ms + 1000


def _fields(built: Built, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "network": built.network.network,
        "exporter": DE,
        "created_ms": _now(built),
        "since": [[KEY, 3]],
        "envelopes": [b"e1", b"e2"],
        "documents": [],
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not _DROP}


_DROP = object()


def _signed(seed: bytes, body: bytes, *, version: Any = 1, key: bytes | None = None) -> bytes:
    signer = signing_key(seed)
    signature = sign_with(signer, DOMAIN, body)
    public = key if key is not None else bytes(signer.verify_key)
    return encode_canonical([version, body, [public, signature]])


def _bundle(built: Built, *, by: Any = None, **changes: Any) -> bytes:
    """A bundle of ``_fields`` with ``changes``, signed by DE's key (or the seed ``by``)."""
    body = encode_canonical(_fields(built, **changes))
    return _signed(by if by is not None else built.signing(DE).reveal(), body)


def _certificate_of(built: Built, node: str) -> bytes:
    home = built.network.nodes[FR]
    for path in sorted(home.certificate_dir.glob("*.cert")):
        data = path.read_bytes()
        certificate = Certificate.from_document(SignedDocument.from_bytes(data))
        if certificate.node == node and certificate.role == "node":
            return data
    raise AssertionError(f"no certificate of {node}")


def _refused(data: bytes, trust: TrustState, now: int, words: str) -> None:
    with pytest.raises(BundleError) as caught:
        read_bundle(data, trust, now)
    assert words in caught.value.message, caught.value.message


# -- accepted ------------------------------------------------------------------------------


def test_a_bundle_of_a_certified_exporter_is_read(built: Built, trust: TrustState) -> None:
    got = read_bundle(_bundle(built), trust, _now(built))
    assert got == Bundle(built.network.network, DE, _now(built), {KEY: 3}, [b"e1", b"e2"], [])


def test_make_bundle_output_is_read(built: Built, trust: TrustState) -> None:
    data = make_bundle(
        network=built.network.network,
        exporter=DE,
        seed=built.signing(DE).reveal(),
        created_ms=_now(built),
        since={KEY: 2**63 - 1},
        envelopes=[],
        documents=[],
    )
    assert read_bundle(data, trust, _now(built)).since == {KEY: 2**63 - 1}


# -- the order: nothing of the body is decoded before the signer is certified -----------------


def _decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = decode_canonical

    def spy(data: bytes, limits: Any, max_bytes: int, what: str, **kw: Any) -> Any:
        seen.append(what)
        return real(data, limits, max_bytes, what, **kw)

    monkeypatch.setattr("ilo_node.home.bundle.decode_canonical", spy)
    return seen


def test_a_strangers_body_is_never_decoded(
    built: Built, trust: TrustState, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader used to verify the signature, decode the whole body, then ask
    # whether the signer was certified.
    seen = _decoded(monkeypatch)
    stranger = generate_signing_key().reveal()
    _refused(_bundle(built, by=stranger), trust, _now(built), "not signed by a certified key")
    assert seen == ["bundle"]


def test_a_bad_signature_is_refused_before_the_body_is_decoded(
    built: Built, trust: TrustState, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _decoded(monkeypatch)
    good = _bundle(built)
    forged = _signed(
        built.signing(DE).reveal(),
        b"x",
        key=bytes(signing_key(built.signing(DE).reveal()).verify_key),
    )
    tampered = good.replace(b"e1", b"e3")
    for data in (tampered, forged[:-64] + bytes(64)):
        _refused(data, trust, _now(built), "bundle refused")
    assert seen == ["bundle", "bundle"]


def test_only_the_documents_are_read_to_find_a_travelling_certificate(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster_only = TrustState(built.network.nodes[FR].chain())
    seen = _decoded(monkeypatch)
    data = _bundle(built, documents=[_certificate_of(built, DE)])
    assert read_bundle(data, roster_only, _now(built)).exporter == DE
    assert seen == ["bundle", "bundle body"]  # the body once, after the signer


def test_a_certificate_travelling_in_the_bundle_certifies_its_signer(built: Built) -> None:
    roster_only = TrustState(built.network.nodes[FR].chain())
    _refused(_bundle(built), roster_only, _now(built), "carries none")
    data = _bundle(built, documents=[b"junk", _certificate_of(built, DE)])
    assert read_bundle(data, roster_only, _now(built)).exporter == DE


def test_only_the_signers_certificates_are_taken_from_the_bundle(built: Built) -> None:
    roster_only = TrustState(built.network.nodes[FR].chain())
    data = _bundle(built, documents=[_certificate_of(built, FR), _certificate_of(built, DE)])
    read_bundle(data, roster_only, _now(built))
    assert {c.node for certs in roster_only.certificates.values() for c in certs} == {DE}


def test_a_refused_bundle_leaves_its_certificate_behind(built: Built) -> None:
    roster_only = TrustState(built.network.nodes[FR].chain())
    data = _bundle(built, documents=[_certificate_of(built, DE)], since=[[KEY, True]])
    _refused(data, roster_only, _now(built), "since")
    assert roster_only.certificates == {}


def test_another_nodes_certificate_does_not_certify_the_signer(built: Built) -> None:
    roster_only = TrustState(built.network.nodes[FR].chain())
    data = _bundle(built, documents=[_certificate_of(built, FR)])
    _refused(data, roster_only, _now(built), "not signed by a certified key")


def test_a_revoked_signer_is_refused_before_the_body(
    built: Built, trust: TrustState, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bytes(signing_key(built.signing(DE).reveal()).verify_key)
    trust.revocations[key] = [object()]  # type: ignore[list-item]
    seen = _decoded(monkeypatch)
    _refused(_bundle(built), trust, _now(built), "or is revoked")
    assert seen == ["bundle"]


# -- the outer list ----------------------------------------------------------------------------


def _outer(built: Built, version: Any = 1, key: bytes | None = None) -> bytes:
    body = encode_canonical(_fields(built))
    return _signed(built.signing(DE).reveal(), body, version=version, key=key)


def test_version_true_is_not_version_1(built: Built, trust: TrustState) -> None:
    # True == 1 in Python: [true, body, signer] passed as a version 1 bundle.
    _refused(_outer(built, version=True), trust, _now(built), "version 1")


def test_version_2_is_refused(built: Built, trust: TrustState) -> None:
    _refused(_outer(built, version=2), trust, _now(built), "version 2 is not supported")


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33)])
def test_signer_key_must_be_32_bytes(built: Built, trust: TrustState, key: bytes) -> None:
    _refused(_outer(built, key=key), trust, _now(built), "signature is malformed")


@pytest.mark.parametrize(
    "outer",
    [[1, "body", [KEY, bytes(64)]], [1, b"", KEY], [1, b"", [KEY]], [1, b""], {"v": 1}, 7],
)
def test_outer_structure_must_be_exact(built: Built, trust: TrustState, outer: Any) -> None:
    with pytest.raises(BundleError):
        read_bundle(encode_canonical(outer), trust, _now(built))


# -- every field of the body -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("since", "what"),
    [
        ([[KEY, True]], "bool-seq"),
        ([[KEY, "7"]], "text-seq"),
        ([[KEY, -1]], "negative-seq"),
        ([[KEY, 2**63]], "seq-beyond-sqlite"),
        ([[[1, 2, 3], 5]], "list-key"),  # bytes([1, 2, 3]) made it a key
        ([[bytes(31), 5]], "short-key"),
        ([[KEY]], "one-element"),
        ([[KEY, 1, 2]], "three-elements"),
        ([[KEY, 1], [KEY, 2]], "duplicate-key"),
        ({"k": 1}, "map"),
        ([b"x"], "not-a-pair"),
    ],
)
def test_since_entries_must_be_distinct_32_byte_keys_to_seqs(
    built: Built, trust: TrustState, since: Any, what: str
) -> None:
    # bytes(k) and int(v) accepted lists as keys and True, "7" or 7.9 as seqs.
    _refused(_bundle(built, since=since), trust, _now(built), "since")


@pytest.mark.parametrize("created", [True, "1", -1, 2**63, [1], None])
def test_created_ms_must_be_an_integer(built: Built, trust: TrustState, created: Any) -> None:
    _refused(_bundle(built, created_ms=created), trust, _now(built), "created_ms")


@pytest.mark.parametrize("name", ["network", "exporter"])
@pytest.mark.parametrize("value", [5, b"DE@TR", ["DE@TR"], None])
def test_network_and_exporter_must_be_text(
    built: Built, trust: TrustState, name: str, value: Any
) -> None:
    # str(exporter) turned any value into a node id to look up.
    _refused(_bundle(built, **{name: value}), trust, _now(built), f"{name!r} must be text")


@pytest.mark.parametrize("name", ["envelopes", "documents"])
@pytest.mark.parametrize("value", [[1], ["x"], b"x", None, [[b"x"]]])
def test_envelopes_and_documents_must_be_lists_of_bytes(
    built: Built, trust: TrustState, name: str, value: Any
) -> None:
    _refused(_bundle(built, **{name: value}), trust, _now(built), "must be byte strings")


@pytest.mark.parametrize(
    "name", ["network", "exporter", "created_ms", "since", "envelopes", "documents"]
)
def test_every_field_is_required(built: Built, trust: TrustState, name: str) -> None:
    _refused(_bundle(built, **{name: _DROP}), trust, _now(built), "lacks required fields")


def test_exporter_must_be_the_node_the_key_is_certified_for(
    built: Built, trust: TrustState
) -> None:
    _refused(_bundle(built, exporter=FR), trust, _now(built), "is certified for DE@TR")


def test_network_must_be_the_receivers(built: Built, trust: TrustState) -> None:
    _refused(_bundle(built, network="other.ilo"), trust, _now(built), "from network 'other.ilo'")


def test_a_bundle_dated_after_the_certificate_is_refused(built: Built, trust: TrustState) -> None:
    late = _now(built) + 10 * 365 * 86_400_000
    _refused(_bundle(built, created_ms=late), trust, late, "not signed by a certified key of DE@TR")


def test_a_non_canonical_body_is_refused(built: Built, trust: TrustState) -> None:
    fields = _fields(built)
    body = b"\x86" + b"".join(
        encode_canonical(k) + encode_canonical(v) for k, v in reversed(sorted(fields.items()))
    )
    _refused(_signed(built.signing(DE).reveal(), body), trust, _now(built), "not sorted")


# -- generated bundles ---------------------------------------------------------------------------

VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.binary(max_size=40)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
NAMES = st.sampled_from(["network", "exporter", "created_ms", "since", "envelopes", "documents"])


def _mutations(built: Built) -> st.SearchStrategy[bytes]:
    seed = built.signing(DE).reveal()
    certificate = _certificate_of(built, DE)
    valid = _bundle(built, documents=[certificate])

    def field_replaced(name: str, value: Any) -> bytes:
        # DE's certificate travels along, so a receiver without it reads the body too.
        return _bundle(built, **{"documents": [certificate], name: value})

    def flipped(at: int, bit: int) -> bytes:
        out = bytearray(valid)
        out[at % len(out)] ^= 1 << bit
        return bytes(out)

    return st.one_of(
        st.builds(field_replaced, NAMES, VALUES),
        st.builds(flipped, st.integers(0, 10_000), st.integers(0, 7)),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        VALUES.map(lambda v: _signed(seed, encode_canonical(v))),
        st.binary(max_size=200),
    )


@pytest.mark.parametrize("receiver", ["certified", "roster only"])
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_bundles_are_read_or_refused_whole(
    built: Built, receiver: str, data: st.DataObject
) -> None:
    chain = built.network.nodes[FR].chain()
    trust = built.network.nodes[FR].trust_state() if receiver == "certified" else TrustState(chain)
    before = {k: list(v) for k, v in trust.certificates.items()}
    bundle = data.draw(_mutations(built))
    try:
        got = read_bundle(bundle, trust, _now(built))
    except BundleError as exc:
        assert exc.message
        # Refused whole: not even the certificate it carried was kept.
        assert {k: list(v) for k, v in trust.certificates.items()} == before
        return
    # Accepted: a field of its exact type each, from the certified exporter.
    assert got.exporter == DE and type(got.created_ms) is int
    assert all(type(k) is bytes and len(k) == 32 and type(v) is int for k, v in got.since.items())
    assert all(type(e) is bytes for e in got.envelopes + got.documents)
