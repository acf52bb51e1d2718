"""Server settings: one place, read from `--flags` and `MODEL_SERVER_*` environment variables (flags win)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MODEL_SERVER_",
        cli_kebab_case=True,
        cli_prog_name="python -m model_server",
        cli_implicit_flags=True,
        extra="forbid",
    )

    host: str = Field("127.0.0.1", description="Address to listen on (0.0.0.0 inside a container).")
    port: int = Field(8000, ge=0, le=65535, description="TCP port to listen on.")
    model_repository: Path = Field(Path("models"), description="Folder of <name>/<version>/model.onnx + model.json.")
    models: str = Field("", description="Comma-separated model names to load; empty loads every model.")
    max_batch_size: int = Field(
        32, ge=1, le=4096, description="Rows merged into one onnxruntime run; 1 turns batching off."
    )
    max_queue_delay_ms: float = Field(
        0.0,
        ge=0,
        le=10_000,
        description="How long a batch waits for more requests; 0 batches only what is already queued.",
    )
    max_queue_size: int = Field(256, ge=1, description="Requests waiting per model; beyond it the server answers 503.")
    request_timeout_s: float = Field(10.0, gt=0, description="Queue + inference time allowed per request; then 504.")
    intra_op_threads: int = Field(0, ge=0, le=256, description="onnxruntime intra-op threads; 0 follows the CPU quota.")
    inter_op_threads: int = Field(1, ge=1, le=256, description="onnxruntime inter-op threads.")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = Field(
        "all", description="onnxruntime graph optimization level."
    )
    text_padding: Literal["longest", "max"] = Field(
        "longest", description="Pad a text batch to its longest text, or always to --max-sequence-length."
    )
    max_sequence_length: int = Field(128, ge=8, le=512, description="Tokens per text; longer texts are truncated.")
    drain_seconds: float = Field(
        5.0, ge=0, le=600, description="After SIGTERM: not ready, but still serving, this long."
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest request body; larger gets 413.")
    log_format: Literal["text", "json"] = Field("text", description="Log line format.")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level.")
    access_log: bool = Field(False, description="Log every request (costs throughput).")

    @field_validator("model_repository")
    @classmethod
    def _repository_exists(cls, path: Path) -> Path:
        if not path.is_dir():
            raise ValueError(f"model repository {str(path)!r} is not a folder (run `make models` to build it)")
        return path

    @property
    def model_names(self) -> list[str]:
        return [name.strip() for name in self.models.split(",") if name.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
