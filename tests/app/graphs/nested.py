"""A graph whose node `inner` is itself a graph (for `get_subgraphs` and `get_graph(xray=...)`)."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class CountState(TypedDict, total=False):
    count: int


def increment(state: CountState) -> CountState:
    return {"count": state.get("count", 0) + 1}


inner = StateGraph(CountState).add_node(increment).add_edge(START, "increment").add_edge("increment", END).compile()

graph = StateGraph(CountState).add_node("inner", inner).add_edge(START, "inner").add_edge("inner", END)
