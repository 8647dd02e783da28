"""The LangGraph Server API subset that the official `langgraph-sdk` client speaks (assistants, threads,
thread state, runs), on the server's graphs, checkpointer, auth and metrics.

Mount each of `platform_api.api.ROUTERS` with `app.include_router`; every route requires the server's API key.
"""
