"""Run the app under uvicorn, with a graceful drain on SIGTERM.

Kubernetes and Compose send SIGTERM, then stop routing to the replica a moment later. So on the first
SIGTERM (or SIGINT) readiness turns 503 at once, the server keeps serving for `drain_seconds`, then stops
accepting, finishes the requests in flight and exits 0. A second signal skips the drain.
"""

import logging
import signal
import threading
from types import FrameType

import uvicorn

from model_server.app import create_app
from model_server.config import Settings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Not calling super(): uvicorn would re-raise the signal after shutdown, and the exit code would not be 0.
        app_state = self.config.loaded_app and self.config.app.state.server
        if self.draining:
            log.info("second %s: stopping now", signal.Signals(sig).name)
            self.should_exit = True
            return
        self.draining = True
        if app_state:
            app_state.draining = True
        log.info("%s: readiness off, draining for %.1f s", signal.Signals(sig).name, self.drain_seconds)
        timer = threading.Timer(self.drain_seconds, lambda: setattr(self, "should_exit", True))
        timer.daemon = True
        timer.start()


def serve(settings: Settings) -> None:
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=settings.access_log,
        timeout_graceful_shutdown=max(settings.request_timeout_s, 1.0),
    )
    DrainingServer(config, settings.drain_seconds).run()
