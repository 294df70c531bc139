"""The client of a running node: its local API, JSON over ``HOME/daemon.sock``."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from ilo_node.client.base import NodeClient, PassphraseSource
from ilo_node.errors import ClientError
from ilo_node.formats.jsoncontent import content_to_json
from ilo_node.home.home import Home
from ilo_node.node.publish import Publication

__all__ = ["LocalApiClient", "node_running"]

#: Seconds a local API call may take (a publish waits for its batch to commit).
TIMEOUT_S = 60.0


def _socket_path(home: Home) -> str:
    return str(home.path / "daemon.sock")


def node_running(home: Home) -> bool:
    """Whether a node answers on the home's socket (a stale socket file does not)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(2.0)
        sock.connect(_socket_path(home))
    except OSError:
        return False
    finally:
        sock.close()
    return True


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("node", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class LocalApiClient(NodeClient):
    def __init__(
        self,
        home: Home,
        passphrase: PassphraseSource | None = None,
        *,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        super().__init__(home, passphrase)
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: Any = None) -> Any:
        conn = _UnixConnection(_socket_path(self.home), self.timeout_s)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        except OSError as exc:
            raise ClientError(
                f"the running node in {self.home.path} did not answer: "
                f"{exc.strerror or type(exc).__name__}",
                "Check that 'ilo-node run' is still running for this home (its log says why "
                "it stopped), then try again.",
            ) from None
        finally:
            conn.close()
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            data = None
        if response.status != 200:
            error = data.get("error") if isinstance(data, dict) else None
            hint = data.get("hint") if isinstance(data, dict) else None
            raise ClientError(f"the running node refused: {error or response.status}", hint)
        return data

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("GET", "/local/status")
        return result

    def publish(self, publication: Publication) -> dict[str, Any]:
        body = {
            "kind": publication.kind,
            "content": content_to_json(publication.content),
            "distribution": publication.distribution,
            "handling": publication.handling,
            "states": list(publication.states),
        }
        result: dict[str, Any] = self.call("POST", "/local/publish", body)
        return result

    def checkpoint(self) -> str:
        return str(self.call("POST", "/local/checkpoint")["note"])

    def ingest(self, envelopes: Sequence[bytes]) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for start in range(0, len(envelopes), 500):
            chunk = envelopes[start : start + 500]
            answer = self.call("POST", "/local/ingest", {"envelopes": [e.hex() for e in chunk]})
            results.extend(answer["results"])
        return results

    def add_documents(self, documents: Sequence[bytes]) -> list[str]:
        answer = self.call("POST", "/local/documents", {"documents": [d.hex() for d in documents]})
        return [str(r) for r in answer["results"]]

    def apply_retention(self, policy: Mapping[str, int], now_ms: int) -> int:
        answer = self.call("POST", "/local/retention", {"policy": dict(policy), "now_ms": now_ms})
        return int(answer["erased"])

    def reload_keys(self, replace_prekeys: bool = False) -> dict[str, Any]:
        """Have the node look at its key files again (after ``keys rotate``) and keep its
        prekeys now (``replace_prekeys``: delete the current ones and make new ones);
        ``{signing_key, prekeys}`` as ``POST /local/keys`` answers."""
        result: dict[str, Any] = self.call(
            "POST", "/local/keys", {"replace_prekeys": replace_prekeys}
        )
        return result

    def stop(self) -> None:
        self.call("POST", "/local/stop")
