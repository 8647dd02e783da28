"""The bundled LangGraph server that the platform deploys."""
