"""``HOME/daemon.json``: the settings of ``ilo-node run`` (docs/api.md, section 8)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields

from ilo_node.home.home import Home
from ilo_node.net.wire import MAX_BODY_BYTES
from protocol.errors import UsageError

__all__ = ["DaemonConfig", "load_config"]


@dataclass(frozen=True)
class DaemonConfig:
    listen: str | None = None  # host:port; default from the roster endpoint
    fanout: int = 2
    sync_interval_s: float = 2.0
    checkpoint_interval_s: float = 5.0
    max_body_bytes: int = MAX_BODY_BYTES
    peer_rate: float = 200.0
    peer_burst: float = 400.0
    address_rate: float = 200.0
    request_timeout_s: float = 10.0
    prekey_check_interval_s: float = 600.0


def load_config(home: Home) -> DaemonConfig:
    path = home.path / "daemon.json"
    if not path.exists():
        return DaemonConfig()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    known = {f.name for f in fields(DaemonConfig)}
    unknown = set(raw) - known
    if unknown:
        raise UsageError(f"{path}: unknown settings {', '.join(sorted(unknown))}")
    return DaemonConfig(**raw)
