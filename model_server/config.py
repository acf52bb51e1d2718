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

    host: str = Field(default="127.0.0.1", description="Address to listen on (0.0.0.0 inside a container).")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port to listen on.")
    model_repository: Path = Field(
        default=Path("models"), description="Folder of <name>/<version>/model.onnx + model.json."
    )
    models: str = Field(default="", description="Comma-separated model names to load; empty loads every model.")
    default_versions: str = Field(
        default="",
        description="Version answering requests that name none, per model (digits=1,minilm=1); unlisted: the highest.",
    )
    max_batch_size: int = Field(
        default=32, ge=1, le=4096, description="Rows merged into one onnxruntime run; 1 turns batching off."
    )
    max_queue_delay_ms: float = Field(
        default=0.0,
        ge=0,
        le=10_000,
        description="How long a batch waits for more requests; 0 batches only what is already queued.",
    )
    max_queue_size: int = Field(
        default=256, ge=1, description="Requests waiting per model; beyond it the server answers 503."
    )
    request_timeout_s: float = Field(
        default=10.0, gt=0, description="Queue + inference time allowed per request; then 504."
    )
    intra_op_threads: int = Field(
        default=0, ge=0, le=256, description="onnxruntime intra-op threads; 0 follows the CPU quota."
    )
    inter_op_threads: int = Field(default=1, ge=1, le=256, description="onnxruntime inter-op threads.")
    graph_optimization: Literal["disable", "basic", "extended", "all"] = Field(
        default="all", description="onnxruntime graph optimization level."
    )
    text_padding: Literal["longest", "max"] = Field(
        default="longest", description="Pad a text batch to its longest text, or always to --max-sequence-length."
    )
    max_sequence_length: int = Field(
        default=128, ge=8, le=512, description="Tokens per text; longer texts are truncated."
    )
    drain_seconds: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="After SIGTERM: not ready, answering with Connection: close, still accepting, this long.",
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, description="Largest request body; larger gets 413.")
    max_request_rows: int = Field(
        default=64,
        ge=1,
        le=1_000_000,
        description="Rows (texts, images) in one request; more gets 400.",
    )
    max_text_chars: int = Field(
        default=2048, ge=1, le=1_000_000, description="Characters in one text; longer gets 400."
    )
    header_timeout_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="A request's headers must arrive within this; then 408 and the connection is closed.",
    )
    body_timeout_s: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        description="The whole body must arrive within this after the headers; then 408 and the connection is closed.",
    )
    write_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="A response the client leaves unread this long (socket buffers full) drops the connection.",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Request line and headers, in bytes; more gets 431 and the connection is closed.",
    )
    max_header_count: int = Field(
        default=100, ge=8, le=10_000, description="Request header lines; more gets 431 and the connection is closed."
    )
    log_format: Literal["text", "json"] = Field(default="text", description="Log line format.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info", description="Log level.")
    access_log: bool = Field(default=False, description="Log every request (costs throughput).")

    @field_validator("model_repository")
    @classmethod
    def _repository_exists(cls, path: Path) -> Path:
        if not path.is_dir():
            raise ValueError(f"model repository {str(path)!r} is not a folder (run `make models` to build it)")
        return path

    @field_validator("default_versions")
    @classmethod
    def _default_versions_parse(cls, text: str) -> str:
        parse_default_versions(text)  # the syntax here; whether the models and versions exist, once they are scanned
        return text

    @property
    def model_names(self) -> list[str]:
        return [name.strip() for name in self.models.split(",") if name.strip()]

    @property
    def default_version_map(self) -> dict[str, str]:
        return parse_default_versions(self.default_versions)


def parse_default_versions(text: str) -> dict[str, str]:
    """`digits=1, minilm=1` as {"digits": "1", "minilm": "1"}; a plain string, so flag and variable read alike."""
    chosen: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, equals, version = (word.strip() for word in item.partition("="))
        if not (equals and name and version):
            raise ValueError(f"{item!r} is not model=version (for example digits=1,minilm=1)")
        if name in chosen:
            raise ValueError(f"model {name!r} is given twice")
        chosen[name] = version
    return chosen


@lru_cache
def get_settings() -> Settings:
    return Settings()
