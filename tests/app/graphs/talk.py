"""A graph that talks: one node writes a `custom` stream event and answers with a fake chat model, so runs have
LangChain messages in their state and in the `messages` stream modes (no provider, no network)."""

from __future__ import annotations

from typing import Annotated

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

REPLY = "hello there, how are you"


class TalkState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]


async def reply(state: TalkState) -> TalkState:
    get_stream_writer()({"progress": "thinking"})
    model = GenericFakeChatModel(messages=iter([AIMessage(REPLY)]))
    return {"messages": [await model.ainvoke(state.get("messages") or [])]}


graph = StateGraph(TalkState).add_node(reply).add_edge(START, "reply").add_edge("reply", END)
