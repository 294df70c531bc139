"""The daemon's new settings (ilo_node/net/config.py) and its log (ilo_node/net/logs.py):
each setting refuses what cannot work, an ``http://`` endpoint needs ``plain_http``,
the log file is capped, rotated and private, and aiohttp's logger is quietened."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from ilo_node.dev.netbuilder import build_network
from ilo_node.errors import HomeError
from ilo_node.home.home import Home
from ilo_node.net.config import DaemonConfig, load_config
from ilo_node.net.daemon import BODY_TIMEOUT_S, run_daemon, serve
from ilo_node.net.logs import QuietFilter, QuietLog, private_log_handler
from keys.prekeys import PrekeySchedule
from protocol.errors import UsageError


def test_defaults_are_sane() -> None:
    config = DaemonConfig()
    assert config.plain_http is False
    assert config.body_timeout_s == BODY_TIMEOUT_S == 10.0
    assert 0 < config.header_timeout_s <= config.keepalive_timeout_s
    assert 0 < config.max_connections_per_address < config.max_connections
    assert config.log_file is None  # standard error
    assert config.log_max_bytes > 0 and config.log_backups > 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        # The type of each setting is checked as the file is read, the range of the
        # new ones as the settings are built: either way the setting is named.
        ({"header_timeout_s": 0}, "header_timeout_s must be a positive"),
        ({"keepalive_timeout_s": -1}, "'keepalive_timeout_s' must be a number"),
        ({"body_timeout_s": "10"}, "'body_timeout_s' must be a number"),
        ({"body_timeout_s": True}, "'body_timeout_s' must be a number"),
        ({"max_connections": 0}, "max_connections must be a positive integer"),
        ({"max_connections_per_address": 2.5}, "'max_connections_per_address' must be an integer"),
        ({"log_max_bytes": 0}, "log_max_bytes must be a positive integer"),
        ({"log_backups": -1}, "'log_backups' must be an integer"),
        ({"plain_http": "yes"}, "'plain_http' must be true or false"),
        ({"plain_http": 1}, "'plain_http' must be true or false"),
        ({"log_file": ""}, "log_file must be a file name"),
        ({"log_file": 7}, "'log_file' must be a string or null"),
        ({"tls": False}, "unknown settings tls"),
        ({"prekey_epoch_s": 0}, "prekey_epoch_s must be a positive"),
        ({"prekey_lead_s": 0}, "prekey_lead_s must be a positive"),
        ({"prekey_check_interval_s": 0}, "prekey_check_interval_s must be a positive"),
        ({"prekey_grace_s": -1}, "'prekey_grace_s' must be a number"),
        ({"prekey_epoch_s": 60, "prekey_lead_s": 61}, "prekey_lead_s must not be longer"),
    ],
)
def test_a_setting_that_cannot_work_is_refused(
    tmp_path: Path, settings: dict[str, Any], message: str
) -> None:
    (tmp_path / "daemon.json").write_text(json.dumps(settings))
    with pytest.raises(UsageError, match=message):
        load_config(Home(tmp_path))


def test_the_prekey_schedule_comes_from_daemon_json(tmp_path: Path) -> None:
    assert DaemonConfig().prekey_schedule() == PrekeySchedule()  # a week, two, a day
    (tmp_path / "daemon.json").write_text(
        json.dumps({"prekey_epoch_s": 4, "prekey_grace_s": 3.5, "prekey_lead_s": 1})
    )
    schedule = load_config(Home(tmp_path)).prekey_schedule()
    assert (schedule.epoch_ms, schedule.grace_ms, schedule.lead_ms) == (4000, 3500, 1000)


def test_daemon_json_must_be_an_object(tmp_path: Path) -> None:
    (tmp_path / "daemon.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="JSON object"):
        load_config(Home(tmp_path))


def test_an_http_endpoint_refuses_to_start_without_plain_http(tmp_path: Path) -> None:
    built = build_network(
        tmp_path / "net",
        ["DE@TR", "FR@TR"],
        endpoints={"DE@TR": "http://127.0.0.1:7451", "FR@TR": "https://127.0.0.1:7452"},
        passphrase=b"pw",
    )
    home = built.nodes["DE@TR"]
    for _ in range(2):  # twice: the first refusal released the home's writer lock
        with pytest.raises(UsageError) as caught:
            asyncio.run(serve(home, b"pw"))
        assert "plain http" in caught.value.message
        assert '"plain_http": true' in caught.value.message
        assert "https://" in caught.value.advice
    assert not (home.path / "daemon.sock").exists()


# -- the log --------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_log_file_is_private_capped_and_rotated(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    old = os.umask(0o022)
    try:
        handler = private_log_handler(path, max_bytes=400, backups=2)
    finally:
        os.umask(old)
    logger = logging.getLogger("test.private-log")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for i in range(40):
            logger.warning("line %03d of the log, long enough to fill it up", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["node.log", "node.log.1", "node.log.2"], files  # capped: two backups
    for name in files:
        assert _mode(tmp_path / name) == 0o600, name
        assert (tmp_path / name).stat().st_size <= 400 + 100
    assert "line 039" in path.read_text()


def test_a_log_file_found_readable_by_others_is_narrowed(tmp_path: Path) -> None:
    path = tmp_path / "node.log"
    path.write_text("old lines\n")
    path.chmod(0o644)
    handler = private_log_handler(path, max_bytes=10_000, backups=1)
    handler.close()
    assert _mode(path) == 0o600


def test_aiohttp_lines_are_limited_and_lose_the_outsiders_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.quiet-filter")
    logger.addFilter(QuietFilter(QuietLog(logger, burst=3)))
    caplog.set_level(logging.INFO, "test.quiet-filter")
    for i in range(50):
        try:
            raise ValueError(f"bad request {i}")
        except ValueError:
            logger.exception("Error handling request from %s", "192.0.2.7")
    records = [r for r in caplog.records if r.name == "test.quiet-filter"]
    assert len(records) == 3
    for record in records:
        assert record.exc_info is None and not record.exc_text
        assert record.getMessage() == "Error handling request from 192.0.2.7 (ValueError)"
    assert "Traceback" not in caplog.text


def test_a_home_too_deep_for_its_socket_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    with pytest.raises(HomeError, match="too long for its local API socket") as refused:
        run_daemon(Home(deep), b"never used")
    assert "shorter path" in refused.value.advice
    assert not (deep / "daemon.sock").exists()
