"""Server settings, read once from the environment (names from `app.contract.Env`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from psycopg.conninfo import conninfo_to_dict
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..contract import DEFAULT_DB_POOL_MAX_SIZE, DEFAULT_MAX_RUN_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS, HTTP_PORT, Env

DEFAULT_LANGGRAPH_CONFIG = Path(__file__).resolve().parent.parent / "langgraph.json"


def _env(name: str, default: object, **constraints: object) -> object:
    return Field(default, validation_alias=AliasChoices(name), **constraints)


class Settings(BaseSettings):
    """Every knob the server has; validated at startup so a bad value stops the process with a clear error."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=False, frozen=True)

    host: str = _env(Env.HOST, "127.0.0.1")
    port: int = _env(Env.PORT, HTTP_PORT, ge=1, le=65535)
    database_url: SecretStr | None = _env(Env.DATABASE_URL, None)
    pool_min_size: int = _env(Env.DB_POOL_MIN_SIZE, 2, ge=0, le=1000)
    pool_max_size: int = _env(Env.DB_POOL_MAX_SIZE, DEFAULT_DB_POOL_MAX_SIZE, ge=1, le=1000)
    # Also how long a request waits before its 503 while the database is unreachable.
    pool_timeout_seconds: float = _env(Env.DB_POOL_TIMEOUT_SECONDS, 5.0, gt=0, le=300)
    pool_check_connections: bool = _env(Env.DB_POOL_CHECK_CONNECTIONS, True)
    prepared_statements: bool = _env(Env.DB_PREPARED_STATEMENTS, True)
    migrate_on_startup: bool = _env(Env.MIGRATE_ON_STARTUP, False)
    data_dir: Path = _env(Env.DATA_DIR, Path(".data"))
    langgraph_config: Path = _env(Env.LANGGRAPH_CONFIG, DEFAULT_LANGGRAPH_CONFIG)
    log_level: str = _env(Env.LOG_LEVEL, "INFO", pattern=r"^(?i:debug|info|warning|error|critical)$")
    cors_origins: Annotated[tuple[str, ...], NoDecode] = _env(Env.CORS_ORIGINS, ())
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = _env(Env.API_KEYS, ())
    max_run_seconds: float = _env(Env.MAX_RUN_SECONDS, float(DEFAULT_MAX_RUN_SECONDS), gt=0)
    drain_timeout_seconds: float = _env(Env.DRAIN_TIMEOUT_SECONDS, 25.0, ge=0)
    max_body_bytes: int = _env(Env.MAX_BODY_BYTES, 1_048_576, ge=1024)
    sse_heartbeat_seconds: float = _env(Env.SSE_HEARTBEAT_SECONDS, 15.0, gt=0, le=300)
    run_lease_seconds: float = _env(Env.RUN_LEASE_SECONDS, 15.0, ge=1, le=600)
    run_max_attempts: int = _env(Env.RUN_MAX_ATTEMPTS, 3, ge=1, le=100)
    worker_concurrency: int = _env(Env.WORKER_CONCURRENCY, 16, ge=1, le=1000)
    # A stream whose client accepts no bytes for this long is closed (its buffered events are dropped).
    sse_send_timeout_seconds: float = _env(Env.SSE_SEND_TIMEOUT_SECONDS, 30.0, gt=0, le=3600)
    # Limits at the HTTP edge, enforced before the app sees a request (`app.server.edge`).
    http_idle_timeout_seconds: float = _env(Env.HTTP_IDLE_TIMEOUT_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS, gt=0)
    http_header_timeout_seconds: float = _env(Env.HTTP_HEADER_TIMEOUT_SECONDS, 10.0, gt=0, le=300)
    http_body_timeout_seconds: float = _env(Env.HTTP_BODY_TIMEOUT_SECONDS, 30.0, gt=0, le=3600)
    max_header_bytes: int = _env(Env.MAX_HEADER_BYTES, 32_768, ge=4096, le=1_048_576)
    max_header_count: int = _env(Env.MAX_HEADER_COUNT, 100, ge=16, le=1000)
    max_request_line_bytes: int = _env(Env.MAX_REQUEST_LINE_BYTES, 8192, ge=1024, le=65_536)

    @field_validator("cors_origins", "api_keys", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _set_means_some_key(cls, value: object) -> object:
        if isinstance(value, str) and not value.replace(",", "").strip():
            raise ValueError("is set but holds no key; list keys separated by commas, or unset it to turn auth off")
        return value

    @field_validator("database_url")
    @classmethod
    def _parsable_database_url(cls, url: SecretStr | None) -> SecretStr | None:
        """A DSN that libpq cannot parse stops startup; the message never repeats any part of it."""
        if url is not None and url.get_secret_value():
            try:
                conninfo_to_dict(url.get_secret_value())
            except Exception:
                raise ValueError(
                    "is not a valid PostgreSQL connection URL (postgresql://user:password@host:port/database) "
                    "or key=value string; check its quoting and percent-encoding"
                ) from None
        return url

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in origins:
            raise ValueError(f"{Env.CORS_ORIGINS} must list explicit origins; '*' is not allowed")
        return origins

    @field_validator("pool_max_size")
    @classmethod
    def _max_not_below_min(cls, max_size: int, info: object) -> int:
        min_size = info.data.get("pool_min_size", 0)  # type: ignore[attr-defined]
        if max_size < min_size:
            raise ValueError(f"{Env.DB_POOL_MAX_SIZE} ({max_size}) is below {Env.DB_POOL_MIN_SIZE} ({min_size})")
        return max_size

    @cached_property
    def uses_postgres(self) -> bool:
        return self.database_url is not None and bool(self.database_url.get_secret_value())

    @cached_property
    def sqlite_path(self) -> Path:
        return self.data_dir / "checkpoints.sqlite"


class InvalidSettings(Exception):
    """The environment holds a bad setting; the message names each variable and never its value."""


def load_settings() -> Settings:
    """`Settings()` from the environment, or `InvalidSettings` with one line per bad variable."""
    try:
        return Settings()
    except ValidationError as error:
        lines = [
            f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors(include_url=False, include_input=False)
        ]
        raise InvalidSettings("invalid settings: " + "; ".join(lines)) from None
