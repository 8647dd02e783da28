"""Chat: one node that sends the conversation to an OpenAI-compatible Chat Completions endpoint.

Input: `{"messages": [{"role": "user", "content": "..."}]}`. The reply is appended as an `assistant` message
and the thread keeps the conversation, so the next run on the same thread continues it. The provider is called as
a LangChain chat model, so a run streamed with `stream_mode="messages"` gets the reply token by token (the provider
streams it then; otherwise it answers in one piece). Environment:
`OPENAI_API_KEY` (unset: the server skips this graph at startup), `OPENAI_BASE_URL` (default
https://api.openai.com/v1; any OpenAI-compatible server) and `OPENAI_MODEL` (default gpt-4o-mini).
"""

from __future__ import annotations

import contextlib
import json
import operator
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langgraph.graph import END, START, StateGraph
from pydantic import ConfigDict
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

    @contextlib.asynccontextmanager
    async def _request(self, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """POST `body` to chat/completions; transport failures and error statuses are `ChatProviderError`s."""
        try:
            async with self._client.stream("POST", "chat/completions", json={"model": self.model, **body}) as response:
                if response.is_error:
                    await response.aread()
                    raise ChatProviderError(
                        f"{self._where} answered {response.status_code} for model {self.model!r}: "
                        f"{self._reason(response)}"
                    )
                yield response
        except httpx.TimeoutException:
            raise ChatProviderError(f"{self._where} did not answer within {TIMEOUT.read}s") from None
        except httpx.HTTPError as error:
            raise ChatProviderError(f"{self._where} cannot be reached: {type(error).__name__}: {error}") from None

    @property
    def _where(self) -> str:
        return f"chat provider {self._client.base_url}"

    async def reply(self, messages: list[dict[str, Any]]) -> str:
        """The assistant's answer to `messages`; `ChatProviderError` when the provider does not give one."""
        async with self._request({"messages": messages}) as response:
            await response.aread()
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, LookupError, TypeError):
            content = None
        if not isinstance(content, str):
            raise ChatProviderError(
                f"{self._where} answered without choices[0].message.content: {self._reason(response)}"
            )
        return content

    async def stream(self, messages: list[dict[str, Any]]) -> AsyncIterator[str]:
        """The assistant's answer to `messages` piece by piece, as the provider streams it (server-sent events)."""
        async with self._request({"messages": messages, "stream": True}) as response:
            async for line in response.aiter_lines():
                data = line.removeprefix("data:").strip()
                if not line.startswith("data:") or data == "[DONE]":
                    continue
                try:
                    choices = json.loads(data)["choices"]
                    content = choices[0]["delta"].get("content") if choices else None
                except (ValueError, LookupError, TypeError, AttributeError):
                    unreadable = f"{self._where} streamed an unreadable event: {data[:MAX_REASON_CHARS]}"
                    raise ChatProviderError(unreadable) from None
                if content:
                    yield content

    def _reason(self, response: httpx.Response) -> str:
        """The provider's error message (OpenAI's `error.message`, else the body), short and without the key."""
        try:
            reason: Any = response.json()["error"]["message"]
        except (ValueError, LookupError, TypeError):
            reason = response.text
        return str(reason).replace(self._api_key, "***")[:MAX_REASON_CHARS] or "(empty body)"


class ProviderChatModel(BaseChatModel):
    """The provider as a LangChain chat model: LangGraph's `messages` stream mode sees its tokens."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    provider: ChatCompletions

    @property
    def _llm_type(self) -> str:
        return "openai-compatible"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        raise NotImplementedError("the chat graph runs asynchronously only")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:  # fmt: skip
        content = await self.provider.reply(convert_to_openai_messages(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content))])

    async def _astream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:  # fmt: skip
        async for content in self.provider.stream(convert_to_openai_messages(messages)):
            yield ChatGenerationChunk(message=AIMessageChunk(content))


def graph() -> StateGraph:
    """The chat graph, built once per server process; `GraphUnavailable` when no provider key is set."""
    api_key = os.environ.get(API_KEY_ENV, "").strip()
    if not api_key:
        raise GraphUnavailable(f"set {API_KEY_ENV} to enable it")
    model = ProviderChatModel(
        provider=ChatCompletions(
            api_key,
            base_url=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            model=os.environ.get(MODEL_ENV) or DEFAULT_MODEL,
        )
    )

    async def chat(state: ChatState) -> ChatState:
        messages = state.get("messages") or []
        if not messages:
            raise ValueError("the conversation has no messages; send {'messages': [{'role': 'user', ...}]}")
        answer = await model.ainvoke(list(messages))
        return {"messages": [{"role": "assistant", "content": answer.text}]}

    return StateGraph(ChatState).add_node("chat", chat).add_edge(START, "chat").add_edge("chat", END)
