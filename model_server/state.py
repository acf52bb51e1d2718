"""What the running server holds: model versions, their batchers, and the ready/draining lifecycle."""

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from onnxruntime import SessionOptions

from model_server.batcher import Batcher
from model_server.config import Settings
from model_server.cpus import available_cpus
from model_server.errors import ModelNotFound, NotReady
from model_server.metrics import Metrics
from model_server.repository import ModelCard, RepositoryError, resolve_default_versions, scan
from model_server.runtime import OnnxModel, build_model, session_options

log = logging.getLogger(__name__)


class ServerState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.cards = scan(settings.model_repository, settings.model_names)  # fails fast on a bad repository
        # Fixed for the process's life: a Deployment changes it with a rollout (a new ReplicaSet), not at run time.
        self.default_versions = resolve_default_versions(self.cards, settings.default_version_map)
        self.intra_op_threads = settings.intra_op_threads or available_cpus()
        options = session_options(self.intra_op_threads, settings.inter_op_threads, settings.graph_optimization)
        self.models: dict[tuple[str, str], OnnxModel] = {
            (card.name, card.version): self._build(card, options)
            for versions in self.cards.values()
            for card in versions.values()
        }
        self.batchers: dict[tuple[str, str], Batcher] = {}
        self.draining = False
        self.load_error: str | None = None
        self.on_load_failure: Callable[[], None] | None = None  # the process sets it to stop the server
        self.metrics.intra_op_threads.set(self.intra_op_threads)
        for name, version in self.models:
            self.metrics.model_ready.labels(name, version).set(0)

    def _build(self, card: ModelCard, options: SessionOptions) -> OnnxModel:
        try:  # a corrupt tokenizer or an unknown task: reported in one line, before the server listens
            return build_model(card, options, self.settings.max_sequence_length, self.settings.text_padding)
        except Exception as exc:
            detail = " ".join(str(exc).split()) or type(exc).__name__
            raise RepositoryError(f"model {card.name} version {card.version} ({card.directory}): {detail}") from exc

    @property
    def ready(self) -> bool:
        return not self.draining and self.load_error is None and all(m.ready for m in self.models.values())

    async def start(self) -> None:
        """Start the batchers, then load and warm every model off the event loop, so liveness answers meanwhile."""
        s = self.settings
        for key, model in self.models.items():
            self.batchers[key] = Batcher(
                model, self.metrics, s.max_batch_size, s.max_queue_delay_ms / 1000, s.max_queue_size
            )
            self.batchers[key].start()
        log.info(
            "loading %d model version(s) from %s; onnxruntime threads intra=%d inter=%d",
            len(self.models),
            s.model_repository,
            self.intra_op_threads,
            s.inter_op_threads,
        )
        log.info("requests without a version go to %s", ", ".join(f"{m}={v}" for m, v in self.default_versions.items()))
        loop = asyncio.get_running_loop()
        for (name, version), model in self.models.items():
            try:
                batcher = self.batchers[name, version]
                await loop.run_in_executor(batcher.executor, model.load)
                await loop.run_in_executor(batcher.executor, batcher.calibrate)
            except Exception as exc:  # readiness reports it; a server process stops (a restart may help, or show it)
                detail = " ".join(str(exc).split()) or type(exc).__name__
                self.load_error = f"model {name} version {version} failed to load from {model.card.onnx_path}: {detail}"
                log.error(self.load_error)
                if self.on_load_failure is not None:
                    self.on_load_failure()
                return
            self.metrics.model_ready.labels(name, version).set(1)
        # What is alive now (modules, routes, models) lives as long as the process: frozen out of the collector,
        # a full collection under load walks only what requests made, not ~95,000 objects more (issue 15).
        gc.collect()
        gc.freeze()
        log.info("all models ready")

    async def stop(self) -> None:
        await asyncio.gather(*(b.stop() for b in self.batchers.values()))

    def card(self, name: str, version: str | None) -> ModelCard:
        versions = self.cards.get(name)
        if versions is None:
            raise ModelNotFound(f"model {name!r} not found (available: {', '.join(sorted(self.cards))})")
        version = version or self.default_versions[name]
        if version not in versions:
            raise ModelNotFound(f"model {name!r} has no version {version!r} (available: {', '.join(sorted(versions))})")
        return versions[version]

    def serving(self, name: str, version: str | None) -> tuple[OnnxModel, Batcher]:
        """The model version and its batcher, ready to take a request."""
        card = self.card(name, version)
        model = self.models[card.name, card.version]
        if not model.ready:
            raise NotReady(f"model {name!r} version {card.version} is not ready yet")
        return model, self.batchers[card.name, card.version]


def state_of(request: Request) -> ServerState:
    return request.app.state.server


async def get_state(request: Request) -> ServerState:  # async: a sync dependency would cost a thread hop
    return state_of(request)


StateDep = Annotated[ServerState, Depends(get_state)]
