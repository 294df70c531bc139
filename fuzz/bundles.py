"""Fuzz target: bundle files (``read_bundle``) against a receiver that holds the
exporter's certificate and one that holds only the roster. Only a BundleError may
come out; a refused bundle leaves the receiver's trust state as it was."""

from __future__ import annotations

from _harness import Served, fuzz, instrumented

with instrumented():
    from ilo_node.errors import BundleError
    from ilo_node.home.bundle import read_bundle
    from keys.trust import TrustState

served = Served()
home = served.built.network.nodes["FR@TR"]
now = home.chain().current.issued_ms + 1000


def test_one_input(data: bytes) -> None:
    for trust in (home.trust_state(), TrustState(home.chain())):
        before = {k: list(v) for k, v in trust.certificates.items()}
        try:
            read_bundle(data, trust, now)
        except BundleError:
            assert {k: list(v) for k, v in trust.certificates.items()} == before


if __name__ == "__main__":
    fuzz(test_one_input)
