"""Errors of the keys and trust layer (part of the one ``IloError`` hierarchy).

::

    IloError
    └── TrustError                     a trust decision went against the input
        ├── RootOfTrustError           the root roster does not match what was pinned
        ├── RosterError                a roster update is refused
        │   ├── ThresholdError         not enough distinct administrator signatures
        │   ├── RollbackError          the version does not advance by exactly one
        │   └── RosterExpiredError     the roster's expiry has passed
        ├── CertificateError           a certificate is not signed by its authority
        ├── RevocationError            a revocation cannot be verified
        ├── PrekeyError                no usable encryption prekey
        ├── WitnessError               a checkpoint or cosignature is not by a valid node key
        └── KeyStoreError              a stored private key cannot be used
            └── WrongPassphraseError
"""

from __future__ import annotations

from protocol.errors import IloError

__all__ = [
    "CertificateError",
    "KeyStoreError",
    "PrekeyError",
    "RevocationError",
    "RollbackError",
    "RootOfTrustError",
    "RosterError",
    "RosterExpiredError",
    "ThresholdError",
    "TrustError",
    "WitnessError",
    "WrongPassphraseError",
]


class TrustError(IloError):
    default_advice = "See docs/operator-guide.md, 'Keys and trust'."


class RootOfTrustError(TrustError):
    default_advice = (
        "Do not use this file: compare the fingerprint with the one the administrators "
        "read out, over a channel you trust, and ask them for the right root roster."
    )


class RosterError(TrustError):
    default_advice = (
        "The roster was not applied; the node keeps using its current roster. Ask the "
        "administrators for a correctly signed next version (docs/operator-guide.md)."
    )


class ThresholdError(RosterError):
    default_advice = (
        "Collect more administrator signatures ('ilo-node roster sign' on each "
        "administrator's machine, then 'ilo-node roster combine')."
    )


class RollbackError(RosterError):
    default_advice = (
        "Rosters only move forward one version at a time: apply the missing versions in "
        "order, and treat an older version offered as new as an attack."
    )


class RosterExpiredError(RosterError):
    default_advice = (
        "The administrators must sign and publish a new roster version; until then new "
        "envelopes are held in quarantine, and history stays verifiable."
    )


class CertificateError(TrustError):
    default_advice = (
        "Ask the Member State authority to issue the certificate again with a key the "
        "current roster lists for it."
    )


class RevocationError(TrustError):
    pass


class PrekeyError(TrustError):
    default_advice = "The recipient must publish a current prekey ('ilo-node keys rotate')."


class WitnessError(TrustError):
    default_advice = (
        "The checkpoint or cosignature was not recorded. If it recurs, check that the "
        "node's certificate has reached this node and that the clocks agree."
    )


class KeyStoreError(TrustError):
    default_advice = (
        "Check the key file: it must be the one 'ilo-node keys init' wrote, readable only "
        "by its owner (chmod 600)."
    )


class WrongPassphraseError(KeyStoreError):
    default_advice = (
        "Check the passphrase (ILO_NODE_PASSPHRASE, --passphrase-file or the prompt); if "
        "it is right, the key file was altered: restore it from your backup."
    )
