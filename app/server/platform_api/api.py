"""The routers of the LangGraph Server API: runs, threads and state, assistants, crons, the store, and a 422
naming each official operation this server does not offer; all behind the API key.

Mounted side by side, not under one parent router: FastAPI matches a request against every route of every
router level by level, twice (once to select, once to dispatch), so a nested router cost `runs.wait` about
75 µs of matching per request. Runs come first: their routes are the busiest, and Starlette tries routes in order.
"""

from . import assistants, crons, runs, store_items, threads, unsupported

ROUTERS = (runs.router, threads.router, assistants.router, crons.router, store_items.router, unsupported.router)
