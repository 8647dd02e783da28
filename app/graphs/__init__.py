"""Example graphs bundled with the server; only `chat` needs a provider key (without one it is skipped)."""
