"""Example graphs bundled with the server; they need no API key and no network."""
