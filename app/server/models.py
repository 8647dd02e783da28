"""Request and response bodies of the graph API (they also make the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .inputs import JsonObject, JsonValue, StorableText, configurable_problem

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
THREAD_ID_MAX_LENGTH = 128
ThreadId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=THREAD_ID_MAX_LENGTH, pattern=THREAD_ID_PATTERN),
    Field(description="Letters, digits and . _ : - (starting with a letter or digit), at most 128 characters"),
]
NodeName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
StreamMode = Literal["values", "updates", "debug", "tasks", "checkpoints", "custom", "messages"]
RunStatus = Literal["success", "interrupted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no "1" for 1, no false for 0


class RunConfig(_Strict):
    """The part of a LangGraph `RunnableConfig` a client may set."""

    recursion_limit: int | None = Field(None, ge=1, le=1000)
    tags: list[Annotated[StorableText, StringConstraints(max_length=128)]] | None = Field(None, max_length=32)
    metadata: JsonObject | None = None
    configurable: JsonObject | None = None

    @field_validator("configurable")
    @classmethod
    def _no_reserved_keys(cls, configurable: dict[str, Any] | None) -> dict[str, Any] | None:
        if configurable is not None and (problem := configurable_problem(configurable)):
            raise ValueError(problem)
        return configurable


class InvokeRequest(_Strict):
    input: JsonValue = Field(None, description="The graph's input (for the bundled graphs, a JSON object)")
    thread_id: ThreadId
    config: RunConfig | None = None


class StreamRequest(InvokeRequest):
    stream_mode: StreamMode = Field("updates", description="LangGraph stream mode; one SSE event per chunk")


class ResumeRequest(_Strict):
    thread_id: ThreadId
    resume: JsonValue = Field(description="The value `interrupt()` returns in the paused node (not null)")
    config: RunConfig | None = None

    @field_validator("resume")
    @classmethod
    def _not_null(cls, resume: Any) -> Any:
        if resume is None:
            raise ValueError("must not be null (LangGraph reads null as no resume); send what interrupt() returns")
        return resume


class StateUpdateRequest(_Strict):
    thread_id: ThreadId
    values: JsonObject | None = Field(description="Channel values to write, as if returned by `as_node`")
    as_node: NodeName | None = Field(None, description="The node the update is attributed to")


class InterruptInfo(BaseModel):
    id: str
    value: Any


class RunResponse(BaseModel):
    thread_id: str
    status: RunStatus
    state: Any = Field(description="The graph's output (final state, or state so far when interrupted)")
    interrupts: list[InterruptInfo]


class StateResponse(BaseModel):
    thread_id: str
    values: Any
    next: list[str]
    interrupts: list[InterruptInfo]
    checkpoint_id: str | None
    parent_checkpoint_id: str | None
    created_at: str | None
    metadata: dict[str, Any] | None


class StateUpdateResponse(BaseModel):
    thread_id: str
    checkpoint_id: str


class HistoryResponse(BaseModel):
    thread_id: str
    states: list[StateResponse]


class GraphInfo(BaseModel):
    name: str
    description: str | None
    nodes: list[str]


class GraphsResponse(BaseModel):
    graphs: list[GraphInfo]


class HealthResponse(BaseModel):
    status: str
    reason: str | None = None
