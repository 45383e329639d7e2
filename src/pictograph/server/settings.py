"""Server configuration: every knob is a ``PICTOGRAPH_*`` environment variable or a CLI flag."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SUBSCRIPTION_TIERS = ("free", "core", "pro", "team", "enterprise")


def default_home() -> Path:
    """``~/.pictograph``: where the data directory and the CLI config file live by default."""
    return Path.home() / ".pictograph"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PICTOGRAPH_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=1, ge=1)
    """Server processes sharing the port; one is plenty for a laptop."""
    data_dir: Path = Field(default_factory=lambda: default_home() / "data")
    database_url: str | None = None
    """SQLAlchemy URL; None means the embedded SQLite file ``<data_dir>/pictograph.db``."""
    public_url: str | None = None
    """Base URL clients reach the server at (signed URLs point here); defaults to http://host:port."""
    bootstrap_api_key: str | None = None
    """First owner key to create on an empty database, instead of a random one."""
    bootstrap_org_name: str = "Default Organization"
    write_client_config: bool = True
    """On first start, write the owner key and base URL to ``~/.pictograph/config.toml``."""
    default_tier: str = "enterprise"
    default_credit_allowance: int = 10_000
    """Credits granted to the organization each month on this install."""
    rate_limit_enabled: bool = True
    redis_url: str | None = None
    """When set, rate-limit windows live in Redis so several API replicas share them."""
    max_upload_bytes: int = 50 * 1024 * 1024
    import_max_bytes: int = 10 * 1024**3
    """Largest import archive (ZIP upload or remote export) accepted; bigger is 413."""
    import_roots: str = ""
    """os.pathsep-separated directories whose folders may be imported in place by path; empty: none (403)."""
    v7_base_url: str = "https://darwin.v7labs.com/api"
    roboflow_base_url: str = "https://api.roboflow.com"
    models_dir: Path | None = None
    """Foundation-model weights (``<models_dir>/<name>/``); None means ``<data_dir>/models``."""
    device: str = "auto"
    """Where models run: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    embedding_cache_mb: int = Field(default=512, ge=0)
    """Image embeddings kept in memory so later prompts on an image skip its encoder."""
    index_images: bool = True
    """Embed and auto-tag every new image in the background (what search needs)."""
    embedding_model: str | None = None
    """The image-embedding model (``siglip2`` or ``efficientnet-lite0``); None: the best one
    whose weights are here. Changing it re-embeds every image in the background."""
    index_workers: int = Field(default=1, ge=0)
    """Threads embedding new images in each server process (queue ``index``)."""
    vector_backend: str = "auto"
    """``hnsw`` (an index file per dataset under the data directory), ``pgvector`` (PostgreSQL
    with the ``vector`` extension) or ``auto``: pgvector when the database offers it."""
    max_video_bytes: int = 10 * 1024**3
    """Largest video upload; bigger is 413."""
    signed_url_ttl_seconds: int = 3600
    bcrypt_rounds: int = 12
    idempotency_ttl_seconds: int = 24 * 3600
    job_workers: int = Field(default=2, ge=0)
    """Threads running durable jobs in each server process; 0 leaves jobs to other processes."""
    training_workers: int = Field(default=1, ge=0)
    """Training runs this server trains at once (each is one process using every core)."""
    training_queues: str = ""
    """Comma-separated GPU tiers (a10g, a100, h100) that have their own worker queue; a run asking
    for one of them waits for a ``pictograph server worker --queue <tier>``. Empty: every run trains here."""
    job_lease_seconds: float = Field(default=30.0, gt=0)
    """How long a claimed job stays claimed without a heartbeat before another worker resumes it."""
    webhook_max_attempts: int = Field(default=5, ge=1)
    """Tries per webhook delivery before it is marked failed (the first one included)."""
    webhook_retry_base_seconds: float = Field(default=2.0, gt=0)
    """Wait before the second try; each later wait doubles (receivers get time to recover)."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long one delivery may take to be answered; a slower receiver counts as a failure."""

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'pictograph.db'}"

    @property
    def training_queue_names(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.training_queues.split(",") if name.strip())

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"
