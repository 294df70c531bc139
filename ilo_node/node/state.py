"""What the parts of one open node share: its identity, database, log, trust and keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlite_utils

from ilo_node.home.home import Home
from keys.keystore import SecretKey
from keys.trust import TrustState
from protocol.limits import Limits

from .counters import Counters
from .log import MerkleLog

if TYPE_CHECKING:  # the node's parts take the state; the state only names this one's type
    from .ownchain import OwnChain

__all__ = ["NodeState", "QuarantineLimits"]


@dataclass(frozen=True)
class QuarantineLimits:
    """How many envelopes may wait: in all, per author key, per sending peer."""

    total: int = 20_000
    per_author: int = 1_000
    per_sender: int = 5_000


@dataclass
class NodeState:
    """Owned by one thread at a time (the daemon's worker): nothing here is locked."""

    home: Home
    node_id: str
    network: str
    limits: Limits
    clock: Callable[[], int]
    db: sqlite_utils.Database
    log: MerkleLog
    trust: TrustState
    counters: Counters
    quarantine_limits: QuarantineLimits = field(default_factory=QuarantineLimits)
    signing: SecretKey | None = None
    #: X25519 public prekey -> secret, for every prekey this node still holds.
    prekey_secrets: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    #: After a restore: whether the node may extend its own chain yet (``ownchain.py``).
    own_chain: OwnChain | None = None
