"""Checks on client-supplied JSON before it reaches a graph or PostgreSQL, with errors that name the field.

Two layers, both run before a run starts or a row is written:

- `JsonValue` / `JsonObject`: request-body types that refuse what JSON parsing lets through but the checkpointer,
  `jsonb` or the response encoder cannot take: NUL characters, lone surrogates, integers beyond 64 bits,
  NaN/Infinity, and nesting deeper than `MAX_JSON_DEPTH`.
- `config_problem`: a client's `config` may not set what the server owns (`RESERVED_CONFIGURABLE_KEYS`,
  LangGraph's internal `__pregel_*` keys) or top-level keys other than `CLIENT_CONFIG_KEYS`.
- `GraphInputSchema`: a graph's input checked against its state schema; keys it does not declare are refused
  (unless the schema is a pydantic model that allows extra keys). Plain channels (a field without a
  reducer, which stores what it is sent) and `operator.add` channels (whose update has the field's own type) are
  validated against their type hints, constraints included (`Annotated[float, Field(ge=0)]`); any other reducer
  (`add_messages` takes strings, dicts, tuples) accepts what it accepts, so it is left to the reducer. Graphs that
  are not `StateGraph`s are not schema-checked.
"""

from __future__ import annotations

import math
import operator
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from langgraph.channels import BinaryOperatorAggregate, LastValue
from langgraph.pregel import Pregel
from pydantic import AfterValidator, TypeAdapter, ValidationError

from .jsonio import INT64_MIN, UINT64_MAX

MAX_JSON_DEPTH = 100

# `configurable` keys the server sets or LangGraph uses internally: a client setting them could run on another
# thread or namespace, fork from an arbitrary checkpoint, or change how (and whether) checkpoints are written.
RESERVED_CONFIGURABLE_KEYS = frozenset({"thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map", "run_id"})
# Top-level `RunnableConfig` keys a client may set.
CLIENT_CONFIG_KEYS = frozenset({"configurable", "tags", "metadata", "recursion_limit", "run_name", "max_concurrency"})


def configurable_problem(configurable: Any) -> str | None:
    """Why `configurable` (from a client) cannot be used, or None."""
    if not isinstance(configurable, dict):
        return "configurable must be a JSON object"
    reserved = sorted(k for k in configurable if k in RESERVED_CONFIGURABLE_KEYS or k.startswith("__"))
    if reserved:
        return (
            f"configurable keys {reserved} are set by the server; send thread_id in the path or body and a "
            "checkpoint in the request's checkpoint fields"
        )
    return None


def config_problem(config: dict[str, Any]) -> str | None:
    """Why a client's `config` cannot be used, or None."""
    unknown = sorted(set(config) - CLIENT_CONFIG_KEYS)
    if unknown:
        return f"config keys {unknown} are not accepted; allowed: {sorted(CLIENT_CONFIG_KEYS)}"
    if config.get("configurable") is not None:
        return configurable_problem(config["configurable"])
    return None


def _path(parts: list[str | int]) -> str:
    return "".join(f"[{part!r}]" for part in parts) or "(top level)"


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which PostgreSQL cannot store"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (e.g. \\ud800), which is not valid Unicode"
    return None


def json_value_problem(value: Any) -> str | None:
    """What makes `value` (parsed JSON) unstorable, with where it is; None if it is fine."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels at {_path(path[:3])}..."
        problem: str | None = None
        if isinstance(item, str):
            problem = _string_problem(item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= UINT64_MAX:
                problem = f"integer {item:.3g} is outside the 64-bit range"
        elif isinstance(item, float):
            if not math.isfinite(item):
                problem = f"{item} is not a finite number"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and (key_problem := _string_problem(key)):
                    return f"key {key!r} at {_path(path)} {key_problem}"
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, index]) for index, child in enumerate(item))
        if problem is not None:
            return f"value at {_path(path)} {problem}"
    return None


def _storable(value: Any) -> Any:
    if (problem := json_value_problem(value)) is not None:
        raise ValueError(problem)
    return value


JsonValue = Annotated[Any, AfterValidator(_storable)]
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]
JsonArray = Annotated[list[Any], AfterValidator(_storable)]
StorableText = Annotated[str, AfterValidator(_storable)]
"""Text PostgreSQL can store: no NUL character, no lone surrogate."""


class InvalidInput(ValueError):
    """The input does not fit the graph's state schema; `errors` lists each field and what is wrong."""

    def __init__(self, graph: str, errors: list[dict[str, str]]) -> None:
        self.errors = errors
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__(f"input does not match the input schema of graph {graph!r}: {summary}")


def _field_errors(prefix: str, error: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(part) for part in (prefix, *e["loc"])), "message": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False)
    ]


def _typed_channel(channel: object) -> bool:
    """Whether a write to `channel` must have the field's declared type."""
    if isinstance(channel, BinaryOperatorAggregate):
        return channel.operator is operator.add
    return isinstance(channel, LastValue)


@dataclass(frozen=True)
class GraphInputSchema:
    """The typed input fields of one graph, each with the adapter that validates it."""

    graph: str
    fields: dict[str, TypeAdapter[Any]] | None  # None: the graph declares no state schema to check against
    known: frozenset[str] | None = None  # the input schema's keys; None: any key is accepted

    @classmethod
    def of(cls, name: str, graph: Pregel) -> GraphInputSchema:
        builder = getattr(graph, "builder", None)
        schema = getattr(builder, "input_schema", None)
        channels = getattr(builder, "channels", None)
        if schema is None or channels is None:
            return cls(name, None)
        try:
            hints = typing.get_type_hints(schema, include_extras=True)
        except (NameError, TypeError):  # a hint that cannot be resolved: leave the input to the graph
            return cls(name, None)
        checked = {key: TypeAdapter(hint) for key, hint in hints.items() if _typed_channel(channels.get(key))}
        extra_allowed = getattr(schema, "model_config", {}).get("extra") == "allow"
        return cls(name, checked, None if extra_allowed else frozenset(hints))

    def _check_fields(self, values: dict[str, Any], prefix: str) -> dict[str, Any]:
        assert self.fields is not None
        errors: list[dict[str, str]] = []
        checked = dict(values)
        for key, value in values.items():
            adapter = self.fields.get(key)
            if adapter is None:
                continue
            try:
                checked[key] = adapter.validate_python(value)
            except ValidationError as error:
                errors.extend(_field_errors(f"{prefix}.{key}", error))
        if errors:
            raise InvalidInput(self.graph, errors)
        return checked

    def validate_input(self, value: Any, prefix: str = "input") -> Any:
        """`value` with its plain fields coerced to their declared types; `InvalidInput` naming each bad field.

        None (continue from the thread's checkpoint) passes; the run says so if there is nothing to continue.
        """
        if value is None or self.fields is None:
            return value
        if not isinstance(value, dict):
            message = f"must be a JSON object with the graph's state keys, got {type(value).__name__}"
            raise InvalidInput(self.graph, [{"field": prefix, "message": message, "type": "dict_type"}])
        if self.known is not None and (unknown := sorted(set(value) - self.known)):
            message = f"not a key of the graph's input schema (keys: {', '.join(sorted(self.known))})"
            errors = [{"field": f"{prefix}.{key}", "message": message, "type": "extra_forbidden"} for key in unknown]
            raise InvalidInput(self.graph, errors)
        return self._check_fields(value, prefix)

    def validate_update(self, values: Any, prefix: str = "values") -> Any:
        """A state update: a mapping is checked like an input; anything else is left to `update_state`."""
        if not isinstance(values, dict) or self.fields is None:
            return values
        return self._check_fields(values, prefix)
