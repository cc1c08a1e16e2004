"""Pulse's configuration: one typed place.

Settings come from, in rising priority:

1. the defaults below,
2. a TOML file (``pulse.toml`` in the working directory, or the file named by
   ``PULSE_CONFIG``), with the same keys as the fields below,
3. ``PULSE_*`` environment variables (``PULSE_WORKSPACE``, ``PULSE_MODEL``, ...),
4. keyword overrides passed to :func:`load_settings` (the CLI's flags).

Example::

    >>> s = load_settings(threads=1)
    >>> s.threads
    1

What it leaves out: secrets management. ``api_key`` is read like any other
setting; keep it in the environment, not in a committed TOML file.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .plugins import BACKENDS, EMBEDDERS

__all__ = ["DB_FILE", "Settings", "load_settings"]

_ENV_PREFIX = "PULSE_"
#: The database file inside a workspace folder.
DB_FILE = "pulse.duckdb"


class Settings(BaseModel):
    """Every knob Pulse has. Field names double as TOML keys and env suffixes."""

    workspace: Path = Field(Path("demo-workspace"), description="Workspace folder (database, index, models).")
    cache_dir: Path = Field(Path.home() / ".cache" / "pulse", description="Assembled model packs and downloaded data packages.")

    backend: str = Field("llamacpp", description="A registered generator backend: llamacpp, transformers, openai, ...")
    model: str = Field(
        "qwen2.5-coder-1.5b", description="A model pack name, a .gguf path, a transformers folder, or a remote model id."
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint for backend=openai, e.g. http://127.0.0.1:8080/v1."
    )
    api_key: str = "none"
    threads: int = Field(2, ge=1, description="CPU threads for the generator.")
    n_ctx: int = Field(8192, ge=512)
    max_tokens: int = Field(320, ge=16, description="Cap on an answer's length.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)

    pipeline: Literal["fast", "generator"] = Field(
        "fast",
        description="fast: code understands, fills arguments and writes structured answers, the generator only "
        "where language is needed; generator: the generator plans and writes every turn (a large "
        "remote model).",
    )

    embedder: str = Field(
        "auto",
        description="Embeds the stored corpus (pulse demo / ingest / index). auto: the backend of the workspace's "
        "vector space, chosen at its first import by its documents' language (MiniLM for English, "
        "the multilingual Universal Sentence Encoder once 1% or more are Chinese).",
    )
    query_embedder: str = Field(
        "auto",
        description="Embeds questions in a running agent. auto: the space's fast backend (MiniLM: int8 ONNX, "
        "cosine >= 0.998 to the corpus model, without torch in memory; USE: the same numpy model).",
    )
    embed_batch: int = Field(64, ge=1)
    show_pii: bool = Field(
        False,
        description="Let the analyst's answers, citations, tool results and the log show personal data as stored "
        "(otherwise it is masked on the way out; the import policy is the workspace's, see `pulse privacy`).",
    )
    index: Literal["auto", "flat", "hnsw"] = "auto"
    hnsw_threshold: int = Field(100_000, ge=1, description="With index=auto, corpora at least this large get HNSW.")
    hnsw_ef_search: int = Field(64, ge=1)

    today: date | None = Field(
        None,
        description="The date 'last month' and 'this year' count from; default: the day after "
        "the newest order (or today, when there are no orders).",
    )

    teacher_posts: int = Field(
        1000, ge=1, description="pulse train --steps teacher: how many posts the generator labels for the sentiment model."
    )

    sql_row_limit: int = Field(200, ge=1)
    sql_timeout_s: float = Field(5.0, gt=0)
    top_k: int = Field(5, ge=1, le=50, description="Passages the search tool returns.")

    host: str = Field("127.0.0.1", description="pulse serve: the address to listen on.")
    port: int = Field(7860, ge=1, le=65535, description="pulse serve: the port (web UI, support API, OpenAI API).")
    server_key: str | None = Field(
        None,
        description="The key the analyst surfaces (web UI, /v1, /doc, /metrics) need; "
        "unset: generated once into <workspace>/server_key.",
    )
    staff_token: str | None = Field(
        None, description="The handoff queue needs 'Authorization: Bearer <staff_token>'; unset: closed."
    )
    open_loopback: bool = Field(
        False, description="Development only: loopback clients need no key (refused unless host is loopback)."
    )
    allowed_hosts: list[str] = Field(default_factory=list, description="Host names served besides loopback and `host`.")
    widget_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the support API from a browser (CORS)."
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="Largest request body; bigger ones get 413 before parsing.")
    max_upload_bytes: int = Field(50_000_000, ge=1024, description="Largest file upload (the web UI's import).")
    handoff_webhook: str | None = Field(None, description="URL that receives each support handoff as a JSON POST.")
    support_fail_limit_client: int = Field(
        20, ge=1, description="Failed support sign-ins from one client address in 15 minutes before it is locked."
    )
    support_fail_limit_all: int = Field(
        200, ge=1, description="Failed support sign-ins from everyone in 15 minutes before sign-in pauses."
    )
    support_session_ttl_s: float = Field(4 * 3600, gt=0, description="How long a support sign-in lasts.")
    discord_alert_channel: int | None = Field(None, description="Discord channel id that receives alerts as they are detected.")
    discord_rate_per_min: int = Field(5, ge=1, description="Discord: messages one user may send per minute.")
    alert_poll_s: float = Field(300.0, gt=0, description="Discord: how often to look for new alerts.")

    @field_validator("allowed_hosts", "widget_origins", mode="before")
    @classmethod
    def _comma_list(cls, v):
        return [x.strip() for x in v.split(",") if x.strip()] if isinstance(v, str) else v

    @field_validator("backend", mode="after")
    @classmethod
    def _registered_backend(cls, v: str) -> str:
        return BACKENDS.check(v)

    @field_validator("embedder", "query_embedder", mode="after")
    @classmethod
    def _registered_embedder(cls, v: str) -> str:
        return v if v == "auto" else EMBEDDERS.check(v)

    @field_validator("workspace", "cache_dir", mode="after")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @property
    def db_path(self) -> Path:
        return self.workspace / DB_FILE

    @property
    def sessions_path(self) -> Path:
        return self.workspace / "sessions.sqlite"


def _from_toml() -> dict:
    path = Path(os.environ.get("PULSE_CONFIG", "pulse.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        data = tomllib.load(f)
    return data.get("pulse", data)


def _from_env() -> dict:
    out = {}
    for name in Settings.model_fields:
        key = _ENV_PREFIX + name.upper()
        if key in os.environ:
            out[name] = os.environ[key]
    return out


def load_settings(**overrides) -> Settings:
    """Merge defaults, TOML, environment and explicit overrides (``None`` means unset)."""
    merged = {**_from_toml(), **_from_env(), **{k: v for k, v in overrides.items() if v is not None}}
    return Settings(**merged)
