"""``HOME/daemon.json``: the settings of ``ilo-node run`` (docs/api.md, section 8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ilo_node.errors import InputError
from ilo_node.formats.jsonfile import read_json_file, settings_from_json
from ilo_node.home.home import Home
from ilo_node.net.wire import MAX_BODY_BYTES
from keys.prekeys import DAY_MS, WEEK_MS, PrekeySchedule
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
    #: The longest wait between two looks at the node's prekeys; the daemon also looks
    #: when the schedule below has something due, and when its signing key changes.
    prekey_check_interval_s: float = 600.0
    #: The prekey schedule (keys/prekeys.py): each prekey covers one epoch, is created
    #: and announced ``prekey_lead_s`` before its epoch starts, and its secret deleted
    #: ``prekey_grace_s`` after the epoch (or the window it was announced for) ends.
    prekey_epoch_s: float = WEEK_MS / 1000
    prekey_grace_s: float = 2 * WEEK_MS / 1000
    prekey_lead_s: float = DAY_MS / 1000
    #: Allow ``http://`` roster endpoints (this node's and its peers'): test networks only.
    plain_http: bool = False
    #: Seconds for a connection's TLS handshake, and then for each request's line and
    #: headers, to arrive.
    header_timeout_s: float = 10.0
    #: Seconds an idle kept-alive connection stays open.
    keepalive_timeout_s: float = 75.0
    #: Seconds for a request's body to arrive once its headers are in.
    body_timeout_s: float = 10.0
    #: Open peer connections allowed from one address, and in all (the latter lowered
    #: to fit the descriptor limit; docs/api.md, section 8).
    max_connections_per_address: int = 64
    max_connections: int = 1024
    #: The daemon's log file (relative to the home), rotated; None: standard error.
    log_file: str | None = None
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5

    def __post_init__(self) -> None:
        for name in ("header_timeout_s", "keepalive_timeout_s", "body_timeout_s"):
            value = getattr(self, name)
            if not _number(value) or value <= 0:
                raise UsageError(f"daemon.json: {name} must be a positive number of seconds")
        for name in ("max_connections_per_address", "max_connections", "log_max_bytes"):
            value = getattr(self, name)
            if not _integer(value) or value < 1:
                raise UsageError(f"daemon.json: {name} must be a positive integer")
        if not _integer(self.log_backups) or self.log_backups < 0:
            raise UsageError("daemon.json: log_backups must be a non-negative integer")
        for name in ("prekey_check_interval_s", "prekey_epoch_s", "prekey_lead_s"):
            value = getattr(self, name)
            if not _number(value) or value < 0.001:
                raise UsageError(f"daemon.json: {name} must be a positive number of seconds")
        self.prekey_schedule()  # refuses a lead longer than the epoch
        if type(self.plain_http) is not bool:
            raise UsageError("daemon.json: plain_http must be true or false")
        if self.log_file is not None and (not isinstance(self.log_file, str) or not self.log_file):
            raise UsageError("daemon.json: log_file must be a file name (or null for stderr)")

    def prekey_schedule(self) -> PrekeySchedule:
        try:
            return PrekeySchedule(
                epoch_ms=round(self.prekey_epoch_s * 1000),
                grace_ms=round(self.prekey_grace_s * 1000),
                lead_ms=round(self.prekey_lead_s * 1000),
            )
        except UsageError as exc:
            raise UsageError(
                "daemon.json: prekey_lead_s must not be longer than prekey_epoch_s"
                if self.prekey_lead_s > self.prekey_epoch_s
                else f"daemon.json: {exc.message}"
            ) from None

    def log_path(self, home: Home) -> Path | None:
        return None if self.log_file is None else home.path / self.log_file


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
