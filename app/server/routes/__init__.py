"""HTTP routers. `ROUTERS` is what `create_app` mounts; a new API (e.g. the LangGraph Server API) appends its router."""

from ..platform_api import api as platform_api
from . import graphs, health

ROUTERS = (health.router, graphs.router, *platform_api.ROUTERS)
