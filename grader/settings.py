"""Grader settings: one place, read from `GRADER_*` environment variables.

Built once (`get_settings()`) and passed in: the runner hands them to each check through its Context. The Makefile's
tool variables (KIND, KUBECTL) are read apart, when a tool is looked up: make sets them per command.
"""

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The reference repository: this checkout (its labs, the lb Dockerfile, the models and wheelhouse it built).
REPO_ROOT = Path(__file__).resolve().parents[1]


class GraderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRADER_", extra="ignore", frozen=True)

    base_image: str = Field(
        default="ai-hosting-labs/python-base:bookworm-3.11", description="Offline base image learners' builds use."
    )
    server_image: str = Field(
        default="ai-hosting-labs/model-server:grader", description="The reference server image live checks run."
    )
    cluster: str = Field(default="ai-hosting-labs", description="The kind cluster's name.")
    namespace: str = Field(default="ai-hosting-labs", description="Namespace the labs deploy to.")
    max_files: int = Field(default=5000, ge=1, description="Files a submission may unpack to.")
    max_bytes: int = Field(default=200_000_000, ge=1, description="Bytes a submission may unpack to.")
    intake_memory: int = Field(default=1024**3, ge=1, description="Memory (bytes) an unpacking child may map.")
    memory_limit: int = Field(default=0, ge=0, description="A batch worker's own memory cap (bytes; 0: none).")
    ledger: Path | None = Field(default=None, description="Folder where a batch worker records what it creates.")

    @property
    def kube_context(self) -> str:
        """The kubeconfig context kind writes for the cluster."""
        return f"kind-{self.cluster}"


@lru_cache
def get_settings() -> GraderSettings:
    return GraderSettings()


class ProjectTools(BaseSettings):
    """kind and kubectl as make passes them (KIND=..., KUBECTL=...); unset: found in .bin/, the venv or PATH."""

    model_config = SettingsConfigDict(extra="ignore")

    kind: str | None = None
    kubectl: str | None = None


def child_env(**extra: str) -> dict[str, str]:
    """The grader's environment for a trusted tool it starts (docker, docker compose), with `extra` set."""
    return {**os.environ, **extra}


def search_path() -> str:
    """PATH alone, for a child started with an otherwise empty environment (git, a learner's client)."""
    return os.environ.get("PATH", "/usr/bin:/bin")
