"""A tiny client for the running node's local API (Unix socket ``HOME/daemon.sock``)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from ilo_node.home.home import Home
from protocol.errors import IloError

__all__ = ["call_local", "daemon_running"]


def daemon_running(home: Home) -> bool:
    return (home.path / "daemon.sock").exists()


async def _call(home: Home, method: str, path: str, body: Any) -> tuple[int, Any]:
    connector = aiohttp.UnixConnector(path=str(home.path / "daemon.sock"))
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
        session.request(method, "http://node" + path, json=body) as response,
    ):
        return response.status, await response.json()


def call_local(home: Home, method: str, path: str, body: Any = None) -> Any | None:
    """The JSON answer, or ``None`` when no node is running in ``home``."""
    if not daemon_running(home):
        return None
    try:
        status, data = asyncio.run(_call(home, method, path, body))
    except (aiohttp.ClientConnectionError, FileNotFoundError, ConnectionRefusedError):
        return None  # a stale socket file: the node is not running
    if status != 200:
        raise IloError(
            f"the running node refused: {data.get('error', status)}",
            data.get("hint") or "See the node's log.",
        )
    return data
