"""A small three-step graph for tests and benchmarks: add one, double, describe.

Input: `{"value": <int>}` (at most 2**53 in size); optional `"sleep_seconds"` (0 to 5) makes each step wait, so
tests can hold a run in flight (drain, heartbeat) without a busy loop. The server checks both against these
constraints before the run starts (`app.server.inputs`), so a bad value is a 422 naming the field.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from pydantic import Field
from typing_extensions import TypedDict

MAX_SLEEP_SECONDS = 5.0
MAX_VALUE = 2**53  # doubled, it stays within the 64-bit integers JSON clients and the checkpointer handle


class StepsState(TypedDict, total=False):
    value: Annotated[int, Field(ge=-MAX_VALUE, le=MAX_VALUE)]
    sleep_seconds: Annotated[float, Field(ge=0, le=MAX_SLEEP_SECONDS, allow_inf_nan=False)]
    trail: Annotated[list[str], operator.add]
    description: str


async def _pause(state: StepsState) -> None:
    seconds = float(state.get("sleep_seconds") or 0)
    if not 0 <= seconds <= MAX_SLEEP_SECONDS:  # also false for NaN; the server rejects these before the run
        raise ValueError(f"sleep_seconds must be between 0 and {MAX_SLEEP_SECONDS}, got {seconds}")
    if seconds:
        await asyncio.sleep(seconds)


async def add_one(state: StepsState) -> StepsState:
    await _pause(state)
    return {"value": int(state.get("value", 0)) + 1, "trail": ["add_one"]}


async def double(state: StepsState) -> StepsState:
    await _pause(state)
    return {"value": state["value"] * 2, "trail": ["double"]}


async def describe(state: StepsState) -> StepsState:
    await _pause(state)
    return {"description": f"result is {state['value']}", "trail": ["describe"]}


graph = (
    StateGraph(StepsState)
    .add_node(add_one)
    .add_node(double)
    .add_node(describe)
    .add_edge(START, "add_one")
    .add_edge("add_one", "double")
    .add_edge("double", "describe")
    .add_edge("describe", END)
)
