"""Run a Pulumi project directory under mocks with the INSTALLED langgraph-k8s package; print JSON.

    python run_example.py <project dir> <stack> <render out dir>

Executed by the interpreter of a virtualenv the package was pip-installed into (see test_reuse.py); it
must not import anything from the checkout, so the report names the files `infra` and `app` came from.
"""

import json
import sys
from pathlib import Path

import yaml

import app
import infra
from infra import mocks, render


def main(project_dir: Path, stack: str, out: Path) -> None:
    # The mocks harness keys config and the Pulumi project by this name; the example is its own project.
    mocks.PROJECT_NAME = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())["name"]
    run = mocks.run_stack(stack, root=project_dir)
    render.write_render(render.render_stack(stack, root=project_dir), out)
    report = {
        "modules": {"infra": infra.__file__, "app": app.__file__},
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
    main(Path(sys.argv[1]).resolve(), sys.argv[2], Path(sys.argv[3]))
