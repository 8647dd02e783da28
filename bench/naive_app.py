"""The naive pattern many tutorials show, served the way our server is (uvicorn, one worker, same route):
every request opens `AsyncPostgresSaver.from_conn_string(...)`, calls `setup()` and compiles the graph."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from app.contract import Env
from app.graphs import steps

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/graphs/steps/invoke")
async def invoke(body: dict[str, Any]) -> dict[str, Any]:
    async with AsyncPostgresSaver.from_conn_string(os.environ[Env.DATABASE_URL]) as saver:
        await saver.setup()
        graph = steps.graph.compile(checkpointer=saver)
        state = await graph.ainvoke(body["input"], {"configurable": {"thread_id": body["thread_id"]}})
    return {"thread_id": body["thread_id"], "state": state}
