"""Record the official server's answers to the script of tests/sdk/script.py into tests/sdk/recorded/official.json.

`make record-official` (or `nice -n 19 python -m tests.sdk.record` once .venv-bench-official exists) starts
`langgraph dev` from .venv-bench-official offline, on the graphs of tests/app/graphs/langgraph.json, drives the
script with the official client and writes the responses with the versions of the official packages.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from langgraph_sdk import get_sync_client

from bench.processes import OFFICIAL_VENV, start_official_server
from tests.app.conftest import GRAPHS_WITH_A_FAILING_ONE
from tests.sdk.script import drive

RECORDING = Path(__file__).parent / "recorded" / "official.json"
OFFICIAL_PACKAGES = ("langgraph-api", "langgraph-runtime-inmem", "langgraph-cli", "langgraph", "langgraph-sdk")


def official_versions() -> dict[str, str]:
    program = "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    output = subprocess.check_output([str(OFFICIAL_VENV / "bin" / "python"), "-c", program, *OFFICIAL_PACKAGES])
    return json.loads(output)


def official_graphs() -> dict[str, str]:
    """The test graphs, with the absolute paths `langgraph dev` needs for a config outside this tree."""
    graphs = json.loads(GRAPHS_WITH_A_FAILING_ONE.read_text())["graphs"]
    return {name: str((GRAPHS_WITH_A_FAILING_ONE.parent / ref).resolve()) for name, ref in graphs.items()}


def main() -> None:
    server = start_official_server(official_graphs())
    try:
        with get_sync_client(url=server.base_url, api_key=None) as client:
            responses = drive(client)
    finally:
        server.stop()
    RECORDING.parent.mkdir(exist_ok=True)
    recording = {"versions": official_versions(), "responses": responses}
    RECORDING.write_text(json.dumps(recording, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(responses)} responses to {RECORDING}")


if __name__ == "__main__":
    main()
