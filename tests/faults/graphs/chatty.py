"""A graph that streams far more than a client socket holds: `rounds` steps, each writing `kilobytes` KiB."""

from __future__ import annotations

from typing import Annotated

from langgraph.graph import END, START, StateGraph
from pydantic import Field
from typing_extensions import TypedDict


class ChattyState(TypedDict, total=False):
    rounds: Annotated[int, Field(ge=1, le=1000)]
    kilobytes: Annotated[int, Field(ge=1, le=1024)]
    done: int
    blob: str


def speak(state: ChattyState) -> ChattyState:
    done = state.get("done", 0) + 1
    return {"done": done, "blob": f"{done:08d}" + "x" * (state["kilobytes"] * 1024)}


def again(state: ChattyState) -> str:
    return "speak" if state["done"] < state["rounds"] else END


graph = StateGraph(ChattyState).add_node(speak).add_edge(START, "speak").add_conditional_edges("speak", again)
