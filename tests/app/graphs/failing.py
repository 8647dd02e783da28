"""A graph whose only node raises, for the tests of how a genuinely failing run is reported."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

SECRET = "invalid literal: internals the client must not see"


class FailingState(TypedDict, total=False):
    value: int


def explode(state: FailingState) -> FailingState:
    raise ValueError(SECRET)


graph = StateGraph(FailingState).add_node(explode).add_edge(START, "explode").add_edge("explode", END)
