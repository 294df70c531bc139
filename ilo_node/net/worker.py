"""The one thread that owns a running node (ADR 0008)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ilo_node.node.core import Node

__all__ = ["NodeWorker"]

T = TypeVar("T")


class NodeWorker:
    """Runs every operation on a node on one dedicated thread, in order."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="node")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
