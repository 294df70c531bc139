"""What a running node takes from its trust state while it runs: TLS trust, peers,
endpoints, and the key it speaks with.

Whenever its trust changes (a document arrives by gossip, ``cert import``,
``roster update`` or a bundle through the local API), its key files change
(``keys rotate``, through ``POST /local/keys``), or a minute passes (certificates
begin and end with time), the node's worker computes a :class:`NetworkView` from
the trust state (the decisions stay in ``keys``), and :class:`LiveNetwork` applies
it on the event loop:

* **TLS trust**: new handshakes accept exactly the node keys that may speak now,
  so a member a roster version removed, or a revoked key, is refused from then on
  (connections already open are judged request by request: a removed member's
  requests are refused by authentication);
* **peers and endpoints**: gossip works with the peers of the roster in force
  (``peers_for``), dials them at that roster's endpoints, and catches up at once
  with each new member;
* **this node's key**: envelopes and checkpoints are signed by the key the node
  chose (``keys/ownkey.py``) from the moment it chose it, on the worker thread;
  requests and TLS follow here. When the key changes to a newly certified one,
  the certificate is first handed to every live peer, signed for by the old key
  they trust, and only then do requests and new handshakes use the new key, so
  peers know it before it knocks.

What cannot change while the node runs: the address it listens on (``listen``,
or its own roster endpoint) is taken at start; a roster version that changes
this node's own endpoint is logged and served from the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from ilo_node.net.config import DaemonConfig
from ilo_node.net.connections import PeerListener, inbound_budget
from ilo_node.net.gossip import Gossip
from ilo_node.net.peerauth import PeerIdentity
from ilo_node.net.peers import peers_for
from ilo_node.net.prekeykeeper import PrekeyKeeper
from ilo_node.net.tls import NodeTls, TrustedKeys, trusted_keys
from ilo_node.net.transport import PLAIN_HTTP_ADVICE, Transport, outgoing_connections
from ilo_node.net.worker import NodeWorker
from ilo_node.node.core import Node
from keys.keystore import SecretKey
from keys.ownkey import next_own_key_change
from protocol.errors import UsageError

__all__ = ["LiveNetwork", "NetworkView", "network_view"]

log = logging.getLogger("ilo_node.daemon")


@dataclass(frozen=True)
class NetworkView:
    """What the node's trust state says the network side should be, at one moment."""

    keys: TrustedKeys
    roster_version: int
    peers: tuple[str, ...]
    endpoints: Mapping[str, str]
    #: This node's endpoint in the roster; None if the roster no longer lists it.
    own_endpoint: str | None
    signing: SecretKey
    may_speak: bool
    #: The certificates of ``signing`` for this node, to hand to peers before using it.
    own_certificates: tuple[bytes, ...]
    #: When the node may next choose another of its keys (a certificate begins or ends).
    next_key_change_ms: int | None


def network_view(node: Node) -> NetworkView:
    """The view of ``node``'s trust state now; call on the thread that owns the node."""
    now = node.clock()
    trust = node.trust
    roster = trust.roster
    assert node.signing is not None
    signing = node.signing
    choice = node.signing_choice
    own = roster.nodes.get(node.node_id)
    held = node.own_keys.publics() if node.own_keys is not None else [signing.public]
    return NetworkView(
        keys=trusted_keys(trust, now, node.node_id),
        roster_version=roster.version,
        peers=tuple(peers_for(roster, node.node_id)),
        endpoints={n: e.endpoint for n, e in roster.nodes.items()},
        own_endpoint=own.endpoint if own is not None else None,
        signing=signing,
        may_speak=choice.may_speak if choice is not None else True,
        own_certificates=tuple(
            c.document.to_bytes()
            for c in trust.certificates.get(signing.public, [])
            if c.node == node.node_id and c.role == "node"
        ),
        next_key_change_ms=next_own_key_change(trust, node.node_id, held, now),
    )


class LiveNetwork:
    """Applies :class:`NetworkView` s to the running node's TLS, transport and gossip,
    one at a time and in the order they were taken; runs on the event loop."""

    def __init__(
        self,
        worker: NodeWorker,
        tls: NodeTls,
        transport: Transport,
        gossip: Gossip,
        config: DaemonConfig,
        *,
        listener: PeerListener | None = None,
        prekeys: PrekeyKeeper | None = None,
        first: NetworkView,
    ) -> None:
        self.worker = worker
        self.node: Node = worker.node
        self.tls = tls
        self.transport = transport
        self.gossip = gossip
        self.config = config
        self.listener = listener
        self.prekeys = prekeys
        self.view = first
        self.started_endpoint = first.own_endpoint
        self.applied_ms = self.node.clock()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug: said once in the log; the next change or the periodic look retries.
            log.error("following a trust change failed", exc_info=task.exception())

    def schedule(self, view: NetworkView) -> None:
        """Apply ``view`` soon (from ``loop.call_soon_threadsafe``, after the worker
        thread took it)."""
        self._spawn(self.apply(view))

    async def refresh(self, *, reload_keys: bool = False) -> NetworkView:
        """Take a view now (``reload_keys``: look at the key files first) and apply it."""

        def take() -> NetworkView:
            if reload_keys and self.node.own_keys is not None:
                self.node.reload_keys()
            else:
                self.node.choose_signing_key()
            return network_view(self.node)

        view = await self.worker.call(take)
        await self.apply(view)
        return view

    async def apply(self, view: NetworkView) -> None:
        async with self._lock:
            old, self.view = self.view, view
            counters = self.node.counters
            if self.tls.update(view.keys):
                log.info(
                    "TLS now trusts %d node keys of %d nodes",
                    len(view.keys.pairs()),
                    len(view.keys.by_node),
                )
            if view.endpoints != old.endpoints:
                self.transport.set_endpoints(view.endpoints)
            self._peers(old, view)
            for peer in view.peers:
                if old.keys.of(peer) != view.keys.of(peer) or (
                    old.endpoints.get(peer) != view.endpoints.get(peer)
                ):
                    # Its calls failed for want of a key to pin, or at its old address.
                    self.gossip.retry_now(peer)
            await self._identity(old, view)
            if view != old:
                counters.add("live", "views_applied")
                self.applied_ms = self.node.clock()

    def _peers(self, old: NetworkView, view: NetworkView) -> None:
        added, dropped = self.gossip.set_peers(view.peers)
        counters = self.node.counters
        if added or dropped:
            counters.add("live", "peers_added", len(added))
            counters.add("live", "peers_dropped", len(dropped))
            log.info(
                "roster v%d: gossiping with %s (added %s, dropped %s)",
                view.roster_version,
                ", ".join(view.peers) or "nobody",
                ", ".join(added) or "none",
                ", ".join(dropped) or "none",
            )
            self._budget(len(view.peers))
        plain = [p for p in added if urlsplit(view.endpoints.get(p, "")).scheme == "http"]
        if plain and not self.config.plain_http:
            log.warning(
                "peers with plain http endpoints are not dialled: %s (%s)",
                ", ".join(plain),
                PLAIN_HTTP_ADVICE,
            )
        for peer in added:
            # A new member gets what this node holds now, not at the next random round.
            self._spawn(self.gossip.sync_with(peer))
        if view.own_endpoint != old.own_endpoint:
            if view.own_endpoint is None:
                log.error(
                    "roster v%d no longer lists %s: its peers refuse it from now on",
                    view.roster_version,
                    self.node.node_id,
                )
            elif view.own_endpoint != self.started_endpoint and self.config.listen is None:
                log.warning(
                    "roster v%d gives %s the endpoint %s; this node keeps listening where it "
                    "started (%s) until it is restarted",
                    view.roster_version,
                    self.node.node_id,
                    view.own_endpoint,
                    self.started_endpoint,
                )

    def _budget(self, peers: int) -> None:
        """More peers, more outgoing connections: keep the inbound cap within the
        descriptors left (as at start)."""
        if self.listener is None:
            return
        try:
            total = inbound_budget(self.config.max_connections, outgoing_connections(peers))
        except UsageError as exc:
            log.warning("the connection cap stays as it was: %s", exc.message)
            return
        self.listener.limits = replace(self.listener.limits, max_total=total)

    async def _identity(self, old: NetworkView, view: NetworkView) -> None:
        key = view.signing.public
        if (old.signing.public, old.may_speak) != (key, view.may_speak) and self.prekeys:
            self.prekeys.wake()  # announce what the old key could not, or with the new one
        if key == self.tls.key:
            return
        if view.may_speak and view.own_certificates:
            # Signed for by the key the peers trust now (this request's signature and
            # TLS are still the old key's): they know the new key before it knocks.
            reached = await self.gossip.send_documents(list(view.own_certificates), role="announce")
            log.info(
                "certificate of this node's new key %s… handed to %d peer(s)",
                key.hex()[:16],
                reached,
            )
        seed = view.signing.reveal()
        self.transport.set_identity(PeerIdentity(self.node.node_id, seed))
        self.tls.set_identity(seed)
        self.node.counters.add("live", "transport_key_switches")
        log.info(
            "%s now speaks with key %s…%s",
            self.node.node_id,
            key.hex()[:16],
            "" if view.may_speak else " (not certified yet: peers refuse it until it is)",
        )

    def status(self) -> dict[str, Any]:
        """The network side as it is now (event loop), for ``/local/status``."""
        return {
            "roster_version": self.view.roster_version,
            "peers": list(self.gossip.peers),
            "transport_key": self.tls.key.hex(),
            "applied_ms": self.applied_ms,
        }

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
