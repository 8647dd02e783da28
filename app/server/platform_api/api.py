"""The router of the LangGraph Server API: assistants, threads and state, runs, crons, the store, and a
422 naming each official operation this server does not offer; all behind the API key."""

from fastapi import APIRouter

from . import assistants, crons, runs, store_items, threads, unsupported
from .context import PLATFORM_ERRORS

router = APIRouter(responses=PLATFORM_ERRORS)
router.include_router(assistants.router)
router.include_router(threads.router)
router.include_router(runs.router)
router.include_router(crons.router)
router.include_router(store_items.router)
router.include_router(unsupported.router)
