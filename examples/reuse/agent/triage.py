"""Support triage: route a customer message to a queue by its keywords, then draft an acknowledgement.

Input: `{"message": "<text>"}`. Output adds `queue` (`billing`, `outage` or `general`) and `reply`.
"""

from __future__ import annotations

from typing import TypedDict

from langgraph.graph import END, START, StateGraph

QUEUE_KEYWORDS = {
    "outage": ("down", "outage", "error", "unavailable"),
    "billing": ("invoice", "refund", "charge", "billing"),
}


class TriageState(TypedDict, total=False):
    message: str
    queue: str
    reply: str


def route(state: TriageState) -> TriageState:
    words = state.get("message", "").lower()
    queue = next((q for q, keys in QUEUE_KEYWORDS.items() if any(k in words for k in keys)), "general")
    return {"queue": queue}


def acknowledge(state: TriageState) -> TriageState:
    return {"reply": f"Thanks, your message is with our {state['queue']} team."}


graph = (
    StateGraph(TriageState)
    .add_node(route)
    .add_node(acknowledge)
    .add_edge(START, "route")
    .add_edge("route", "acknowledge")
    .add_edge("acknowledge", END)
)
