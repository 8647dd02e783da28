"""`python -m app`: serve on HOST:PORT with one uvicorn worker (Kubernetes scales pods, not workers).

SIGTERM (or Ctrl-C) starts a drain: readiness turns 503 at once and new runs get 503, while runs in
flight get up to DRAIN_TIMEOUT_SECONDS to finish; then uvicorn stops and the pool closes. A second
signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from types import FrameType

import uvicorn

from .server.edge import EdgeLimits, edge_protocol
from .server.heap import freeze_startup_heap
from .server.logs import configure_logging
from .server.main import create_app
from .server.runtime import Runtime
from .server.settings import InvalidSettings, load_settings

log = logging.getLogger("app.server")
SHUTDOWN_GRACE_SECONDS = 1.0  # after the drain, for responses still being written


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains the app's runs before it stops accepting connections."""

    def __init__(self, config: uvicorn.Config, runtime: Runtime) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._drain_task: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain_task is not None or self.should_exit:
            super().handle_exit(sig, frame)
            if self._drain_task is not None:
                self.force_exit = True
            return
        self.runtime.drain.start_draining()
        self._drain_task = asyncio.get_running_loop().create_task(self._drain_then_exit(sig, frame))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start the app (lifespan) and listen, then freeze the start-up heap (`app.server.heap`)."""
        await super().startup(sockets)
        freeze_startup_heap()

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        await self.runtime.drain.drain(self.runtime.settings.drain_timeout_seconds)
        super().handle_exit(sig, frame)


def main() -> None:
    try:
        settings = load_settings()
    except InvalidSettings as error:
        sys.exit(f"langgraph server not started: {error}")
    configure_logging(settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=edge_protocol(EdgeLimits.of(settings)),
        timeout_keep_alive=settings.http_idle_timeout_seconds,  # type: ignore[arg-type]
        workers=1,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
    )
    DrainingServer(config, app.state.runtime).run()


if __name__ == "__main__":
    main()
