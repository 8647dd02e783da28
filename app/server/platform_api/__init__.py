"""The LangGraph Server API subset that the official `langgraph-sdk` client speaks (assistants, threads,
thread state, runs), on the server's graphs, checkpointer, auth and metrics.

Register with `app.include_router(platform_api.api.router)`; every route requires the server's API key.
"""
