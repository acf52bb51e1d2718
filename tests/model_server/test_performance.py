"""What keeps the server's CPU for requests (issue 15): measured in `make bench-peers`, checked here."""

import gc
from pathlib import Path

from loadtest.preflight import poll
from model_server.config import Settings
from tests.model_server.conftest import ready_client


def test_what_lives_as_long_as_the_server_is_frozen_out_of_the_collector(models_dir: Path):
    # Modules, routes and models live as long as the process: a full collection under load should not walk them
    # (about 95,000 objects: tens of milliseconds of a blocked event loop, every few thousand requests).
    gc.unfreeze()
    try:
        for _ in ready_client(Settings(model_repository=models_dir, models="digits")):
            assert poll(lambda: gc.get_freeze_count() > 10_000 or None, 10), gc.get_freeze_count()
    finally:
        gc.unfreeze()
