"""The FastAPI server: `create_app()` in `app.server.main`; the shared runtime in `app.server.runtime`."""
