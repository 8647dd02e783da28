"""Chat: one node that sends the conversation to an OpenAI-compatible Chat Completions endpoint.

Input: `{"messages": [{"role": "user", "content": "..."}]}`. The reply is appended as an `assistant` message
and the thread keeps the conversation, so the next run on the same thread continues it. Environment:
`OPENAI_API_KEY` (unset: the server skips this graph at startup), `OPENAI_BASE_URL` (default
https://api.openai.com/v1; any OpenAI-compatible server) and `OPENAI_MODEL` (default gpt-4o-mini).
"""

from __future__ import annotations

import operator
import os
from typing import Annotated, Any, Literal

import httpx
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from app.server.registry import GraphUnavailable

API_KEY_ENV = "OPENAI_API_KEY"
BASE_URL_ENV = "OPENAI_BASE_URL"
MODEL_ENV = "OPENAI_MODEL"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)  # below the server's MAX_RUN_SECONDS default, so the run says why
MAX_REASON_CHARS = 300


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatState(TypedDict, total=False):
    messages: Annotated[list[Message], operator.add]


class ChatProviderError(RuntimeError):
    """The provider refused or failed a request; the message names the status and the provider's reason."""


class ChatCompletions:
    """One provider's Chat Completions endpoint over one connection pool, shared by every run of the graph."""

    def __init__(self, api_key: str, base_url: str, model: str) -> None:
        self.model = model
        self._api_key = api_key
        self._client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=TIMEOUT
        )

    async def reply(self, messages: list[Message]) -> str:
        """The assistant's answer to `messages`; `ChatProviderError` when the provider does not give one."""
        where = f"chat provider {self._client.base_url}"
        try:
            response = await self._client.post("chat/completions", json={"model": self.model, "messages": messages})
        except httpx.TimeoutException:
            raise ChatProviderError(f"{where} did not answer within {TIMEOUT.read}s") from None
        except httpx.HTTPError as error:
            raise ChatProviderError(f"{where} cannot be reached: {type(error).__name__}: {error}") from None
        if response.is_error:
            raise ChatProviderError(
                f"{where} answered {response.status_code} for model {self.model!r}: {self._reason(response)}"
            )
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            content = None
        if not isinstance(content, str):
            raise ChatProviderError(f"{where} answered without choices[0].message.content: {self._reason(response)}")
        return content

    def _reason(self, response: httpx.Response) -> str:
        """The provider's error message (OpenAI's `error.message`, else the body), short and without the key."""
        try:
            reason: Any = response.json()["error"]["message"]
        except (ValueError, LookupError, TypeError):
            reason = response.text
        return str(reason).replace(self._api_key, "***")[:MAX_REASON_CHARS] or "(empty body)"


def graph() -> StateGraph:
    """The chat graph, built once per server process; `GraphUnavailable` when no provider key is set."""
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        raise GraphUnavailable(f"set {API_KEY_ENV} to enable it")
    provider = ChatCompletions(
        api_key,
        base_url=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        model=os.environ.get(MODEL_ENV) or DEFAULT_MODEL,
    )

    async def chat(state: ChatState) -> ChatState:
        messages = state.get("messages") or []
        if not messages:
            raise ValueError("the conversation has no messages; send {'messages': [{'role': 'user', ...}]}")
        return {"messages": [{"role": "assistant", "content": await provider.reply(messages)}]}

    return StateGraph(ChatState).add_node("chat", chat).add_edge(START, "chat").add_edge("chat", END)
