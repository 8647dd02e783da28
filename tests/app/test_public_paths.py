"""Every route of the server is either under a public API prefix (routed by the Ingress) or operational."""

from fastapi.routing import APIRoute

from app.contract import API_PATH_PREFIXES, HEALTH_PATH, METRICS_PATH, READY_PATH
from app.server.main import create_app
from app.server.settings import Settings

OPERATIONAL = {HEALTH_PATH, READY_PATH, METRICS_PATH}


def test_every_route_is_public_api_or_operational(tmp_path):
    app = create_app(Settings(DATA_DIR=str(tmp_path)))
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue  # FastAPI's docs and schema, which the Ingress does not route
        public = any(route.path == p or route.path.startswith(p + "/") for p in API_PATH_PREFIXES)
        assert public != (route.path in OPERATIONAL), (
            f"{route.path}: add its prefix to app.contract.API_PATH_PREFIXES or make it operational"
        )
