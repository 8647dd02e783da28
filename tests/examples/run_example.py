"""Run a Pulumi project directory under mocks with the INSTALLED langgraph-k8s package; print JSON.

    python run_example.py <project dir> <stack>

Executed by the interpreter of a virtualenv the package was pip-installed into (see test_reuse.py); it
must not import anything from the checkout, so the report names the files `langgraph_k8s.infra` and
`langgraph_k8s.app` came from.
"""

import json
import sys
from pathlib import Path

from langgraph_k8s import app, infra
from langgraph_k8s.infra import mocks


def main(project_dir: Path, stack: str) -> None:
    run = mocks.run_stack(stack, root=project_dir)
    report = {
        "modules": {"infra": infra.__file__, "app": app.__file__},
        "project": mocks.project_name(project_dir),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "dependencies": r.dependencies,
                "inputs": r.inputs,
            }
            for r in run.resources
        ],
        "stack_outputs": run.stack_outputs,
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), sys.argv[2])
