"""A small three-step graph for tests and benchmarks: add one, double, describe.

Input: `{"value": <int>}`; optional `"sleep_seconds"` (0 to 5) makes each step wait, so tests can hold a
run in flight (drain, heartbeat) without a busy loop.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

MAX_SLEEP_SECONDS = 5.0


class StepsState(TypedDict, total=False):
    value: int
    sleep_seconds: float
    trail: Annotated[list[str], operator.add]
    description: str


async def _pause(state: StepsState) -> None:
    seconds = min(max(float(state.get("sleep_seconds") or 0), 0.0), MAX_SLEEP_SECONDS)
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
