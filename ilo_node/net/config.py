"""``HOME/daemon.json``: the settings of ``ilo-node run`` (docs/api.md, section 8)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import read_json_file, settings_from_json
from ilo_node.home.home import Home
from ilo_node.net.wire import MAX_BODY_BYTES

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
    # Every setting's type checked against DaemonConfig's annotations, so a new field
    # is checked as soon as it is declared.
    config = settings_from_json(DaemonConfig, read_json_file(path, "daemon.json"), str(path))
    port = _LISTEN.fullmatch(config.listen or "")
    if config.listen is not None and not (port and 0 < int(port.group(1)) < 65536):
        raise InputError(f"{path}: 'listen' must be host:port, e.g. 127.0.0.1:7400")
    return config


#: host:port (the daemon splits at the last colon and reads the port with int()).
_LISTEN = re.compile(r"\S*:([0-9]{1,5})")
