"""Graphs that stream a LangChain chat model's tokens (a fake one), for `stream_mode="messages"`.

`talk`: `reply` streams the model's answer and writes a custom event; `sign` returns a finished message without a
model. `talk_nested`: the same graph as the node `talk` of an outer graph, for subgraph streaming.
"""

from __future__ import annotations

import itertools

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph

ANSWER = "hello from the fake model"
SIGNATURE = "-- the talk graph"

model = GenericFakeChatModel(messages=(AIMessage(ANSWER) for _ in itertools.count()))  # a new message (id) per call


async def reply(state: MessagesState) -> MessagesState:
    get_stream_writer()({"progress": "thinking"})
    return {"messages": [await model.ainvoke(state["messages"])]}


def sign(state: MessagesState) -> MessagesState:
    return {"messages": [AIMessage(SIGNATURE)]}


talk = (
    StateGraph(MessagesState)
    .add_node(reply)
    .add_node(sign)
    .add_edge(START, "reply")
    .add_edge("reply", "sign")
    .add_edge("sign", END)
)
graph = talk.compile()
nested = StateGraph(MessagesState).add_node("talk", graph).add_edge(START, "talk").add_edge("talk", END)
