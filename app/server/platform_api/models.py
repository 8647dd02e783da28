"""Request bodies of the LangGraph Server API subset, as the official `langgraph-sdk` client sends them.

Fields the client sends but this server does not implement are declared so that leaving them at
their default works, while setting them gets a 422 that names the field and says what is supported.
Unknown fields are rejected (`extra="forbid"`), so a typo never silently changes behaviour.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from ..inputs import JsonArray, JsonObject, JsonValue, StorableText, config_problem
from ..models import ThreadId

ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
THREAD_STATUSES: tuple[str, ...] = ("idle", "busy", "interrupted", "error")

# Stream modes LangGraph itself produces; `events` (LangChain's astream_events v2); `messages` (LangGraph's message
# chunks accumulated per message, as `messages/metadata|partial|complete` events); `messages-tuple` (them as they come).
NATIVE_STREAM_MODES = ("values", "updates", "debug", "custom", "tasks", "checkpoints")
SUPPORTED_STREAM_MODES = (*NATIVE_STREAM_MODES, "events", "messages", "messages-tuple")

MAX_PAGE = 1000
MAX_OFFSET = 1_000_000  # a larger offset is a 422, not a database error


# An id a client sends in a path or a list: anything PostgreSQL can store (no NUL, no lone surrogate).
StoredId = Annotated[StorableText, Field(max_length=256)]


def _thread_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`graph_id` in thread metadata says which graph reads the thread: it must be a graph's name."""
    graph_id = metadata.get("graph_id")
    if graph_id is not None and not isinstance(graph_id, str):
        raise ValueError(f"metadata.graph_id must be a string naming a graph, got {type(graph_id).__name__}")
    return metadata


ThreadMetadata = Annotated[JsonObject, AfterValidator(_thread_metadata)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no "1" for 1, no false for 0


def _unsupported(field: str, value: object, supported: str) -> ValueError:
    return ValueError(f"{field}={value!r} is not supported by this server; {supported}")


class CheckpointRef(BaseModel):
    """A checkpoint address as the client sends it (`thread_id` is ignored in favour of the path)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    thread_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class ThreadCreate(_Body):
    thread_id: ThreadId | None = None
    metadata: ThreadMetadata = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: list[dict[str, Any]] | None = None
    ttl: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _reject_unsupported(self) -> ThreadCreate:
        if self.supersteps:
            raise _unsupported("supersteps", "...", "create the thread, then call threads.update_state")
        if self.ttl is not None:
            raise _unsupported("ttl", self.ttl, "thread retention is configured server-side (app.prune)")
        return self


class ThreadPatch(_Body):
    metadata: ThreadMetadata
    ttl: dict[str, Any] | None = None

    @field_validator("ttl")
    @classmethod
    def _no_ttl(cls, ttl: dict[str, Any] | None) -> None:
        if ttl is not None:
            raise _unsupported("ttl", ttl, "thread retention is configured server-side (app.prune)")


class ThreadSearch(_Body):
    metadata: JsonObject | None = None
    values: JsonObject | None = None
    ids: list[StoredId] | None = None
    status: ThreadStatus | None = None
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] = "created_at"
    sort_order: Literal["asc", "desc"] = "desc"
    select: list[str] | None = None
    extract: dict[str, str] | None = None

    @model_validator(mode="after")
    def _reject_unsupported(self) -> ThreadSearch:
        if self.select:
            raise _unsupported("select", self.select, "threads are returned whole")
        if self.extract:
            raise _unsupported("extract", self.extract, "threads are returned whole")
        return self


class ThreadCount(_Body):
    metadata: JsonObject | None = None
    values: JsonObject | None = None
    status: ThreadStatus | None = None


ASSISTANT_FIELD = Literal[
    "assistant_id", "graph_id", "name", "description", "config", "context", "metadata", "version",
    "created_at", "updated_at",
]  # fmt: skip


class AssistantSearch(_Body):
    metadata: JsonObject | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[ASSISTANT_FIELD] | None = None


class AssistantCount(_Body):
    metadata: JsonObject | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantCreate(_Body):
    graph_id: str
    assistant_id: str | None = None
    config: JsonObject = Field(default_factory=dict)
    context: JsonObject = Field(default_factory=dict)
    metadata: JsonObject = Field(default_factory=dict)
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = None
    description: str | None = None


class AssistantPatch(_Body):
    graph_id: str | None = None
    config: JsonObject | None = None
    context: JsonObject | None = None
    metadata: JsonObject | None = None
    name: str | None = None
    description: str | None = None


class AssistantVersionSearch(_Body):
    metadata: JsonObject | None = None
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0)


class AssistantLatest(_Body):
    version: int = Field(ge=1)


class StateUpdate(_Body):
    values: JsonObject | JsonArray | None = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: CheckpointRef | None = None


class StateAtCheckpoint(_Body):
    checkpoint: CheckpointRef
    subgraphs: bool = False
    select: list[str] | None = None

    @field_validator("select")
    @classmethod
    def _no_select(cls, select: list[str] | None) -> None:
        if select:
            raise _unsupported("select", select, "the whole state is returned")


class HistoryRequest(_Body):
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    before: str | dict[str, Any] | None = None  # a checkpoint id, a checkpoint, or a config {"configurable": ...}
    metadata: JsonObject | None = None
    checkpoint: CheckpointRef | None = None
    select: list[str] | None = None

    @field_validator("select")
    @classmethod
    def _no_select(cls, select: list[str] | None) -> None:
        if select:
            raise _unsupported("select", select, "whole states are returned")


class ThreadPrune(_Body):
    thread_ids: list[StoredId] = Field(max_length=MAX_PAGE)
    strategy: Literal["delete", "keep_latest"] = "delete"


class SendSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no "1" for 1, no false for 0

    node: str
    input: JsonValue = None


class RunCommand(_Body):
    """`command` of a run: resume an interrupt, update state, and/or jump to nodes."""

    resume: JsonValue = None
    update: JsonObject | JsonArray | None = None
    goto: SendSpec | str | list[SendSpec | str] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> RunCommand:
        if self.resume is None and self.update is None and self.goto in (None, []):
            raise ValueError("command needs resume (not null), update or goto")
        return self


class RunCreate(_Body):
    """Body of `runs.wait`, `runs.stream` and `runs.create` (stateful and stateless)."""

    assistant_id: str
    input: JsonValue = None
    command: RunCommand | None = None
    config: JsonObject | None = None
    context: JsonObject | None = None
    metadata: JsonObject | None = None
    stream_mode: str | list[str] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "cancel"
    on_completion: Literal["delete", "keep"] = "delete"
    webhook: str | None = None
    feedback_keys: list[str] | None = None
    after_seconds: int | None = None
    langsmith_tracer: dict[str, Any] | None = None
    strict_resume: bool | None = None

    @field_validator("stream_mode")
    @classmethod
    def _known_modes(cls, mode: str | list[str]) -> list[str]:
        modes = [mode] if isinstance(mode, str) else list(dict.fromkeys(mode))
        unknown = [m for m in modes if m not in SUPPORTED_STREAM_MODES]
        if unknown:
            raise ValueError(f"stream_mode {unknown} not supported; choose from {list(SUPPORTED_STREAM_MODES)}")
        return modes or ["values"]

    @field_validator("config")
    @classmethod
    def _client_config(cls, config: dict[str, Any] | None) -> dict[str, Any] | None:
        if config is not None and (problem := config_problem(config)):
            raise ValueError(problem)
        return config

    @model_validator(mode="after")
    def _reject_unsupported(self) -> RunCreate:
        if self.input is not None and self.command is not None:
            raise ValueError("give either input or command, not both")
        checks = (
            ("webhook", self.webhook, None, "webhooks are not sent"),
            ("feedback_keys", self.feedback_keys, None, "LangSmith feedback is not available"),
            ("after_seconds", self.after_seconds, None, "runs start immediately"),
            ("langsmith_tracer", self.langsmith_tracer, None, "configure LangSmith tracing via the environment"),
        )
        for field, value, default, supported in checks:
            if value not in (default, None, [], 0):
                raise _unsupported(field, value, supported)
        return self

    @property
    def stream_modes(self) -> list[str]:
        return self.stream_mode if isinstance(self.stream_mode, list) else [self.stream_mode]


def _timezone(timezone: str | None) -> str | None:
    if timezone is None:
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
        raise ValueError(f"timezone {timezone!r} is not an IANA time zone (e.g. 'America/New_York')") from None
    return timezone


CronTimezone = Annotated[str | None, AfterValidator(_timezone)]
CronTime = Annotated[datetime | None, Field(strict=False)]  # an ISO 8601 string in JSON
CronSchedule = Annotated[str, Field(max_length=256)]

CRON_FIELDS = ("schedule", "end_time", "enabled", "timezone", "on_run_completed", "metadata")
"""Fields of a cron request that describe the cron (its `metadata` is given to each run); the others are the run
it creates (`RunCreate`). A cron's `payload` is the whole request, as on the official server."""


class CronCreate(RunCreate):
    """Body of `crons.create` and `crons.create_for_thread`: a schedule and the run to create on it."""

    schedule: CronSchedule
    end_time: CronTime = None
    enabled: bool = True
    timezone: CronTimezone = None
    on_run_completed: Literal["delete", "keep"] | None = None

    @model_validator(mode="after")
    def _run_fields_only(self) -> CronCreate:
        for field, default in (("on_disconnect", "cancel"), ("if_not_exists", "reject"), ("on_completion", "delete")):
            if getattr(self, field) != default:
                raise _unsupported(field, getattr(self, field), "a cron's runs take on_run_completed")
        return self

    def payload(self) -> dict[str, Any]:
        """The fields the client sent."""
        return self.model_dump(mode="json", exclude_unset=True)


class CronPatch(_Body):
    """Body of `crons.update`: schedule fields replace, `metadata` merges, run fields replace the run's."""

    schedule: CronSchedule | None = None
    end_time: CronTime = None
    enabled: bool | None = None
    timezone: CronTimezone = None
    on_run_completed: Literal["delete", "keep"] | None = None
    input: JsonValue = None
    metadata: JsonObject | None = None
    config: JsonObject | None = None
    context: JsonObject | None = None
    webhook: str | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None


CronSortBy = Literal["cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time"]
CRON_SELECT_FIELDS = Literal[
    "cron_id", "assistant_id", "thread_id", "on_run_completed", "end_time", "schedule", "timezone", "created_at",
    "updated_at", "user_id", "payload", "next_run_date", "metadata", "enabled",
]  # fmt: skip


class CronCount(_Body):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: JsonObject | None = None


class CronSearch(CronCount):
    enabled: bool | None = None
    limit: int = Field(10, ge=1, le=MAX_PAGE)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    sort_by: CronSortBy | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[CRON_SELECT_FIELDS] | None = None


MAX_BATCH_RUNS = 1000


class RunsCancel(_Body):
    """Body of `runs.cancel_many`: a thread's runs by id, or every run with a status."""

    thread_id: StoredId | None = None
    run_ids: list[StoredId] | None = Field(None, max_length=MAX_PAGE)  # text PostgreSQL can compare: no NUL
    status: Literal["pending", "running", "all"] | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> RunsCancel:
        if self.status is not None and (self.thread_id is not None or self.run_ids):
            raise ValueError("give either status, or thread_id with run_ids, not both")
        if self.status is None and self.thread_id is None:
            raise ValueError("name the runs: thread_id with run_ids, or a status (pending, running or all)")
        if self.status is None and not self.run_ids:
            raise ValueError("run_ids: name at least one run of the thread")
        if self.status is None and not self.thread_id:
            raise ValueError("thread_id: name the thread of run_ids")
        return self
