"""The server package these components deploy, wherever it was installed from.

In this repository `infra/` and `app/` are top-level packages; the installed distribution has them as
`langgraph_k8s.infra` and `langgraph_k8s.app`, so a consumer's own `app/` folder is never picked up instead.
"""

from pathlib import Path

if __package__ == "infra":  # the source checkout
    import app as server_package
    from app import contract
else:  # installed: langgraph_k8s.infra beside langgraph_k8s.app
    from .. import app as server_package
    from ..app import contract

Metrics = contract.Metrics
SERVER_DIR = Path(server_package.__file__).resolve().parent
"""The bundled server's directory, installed with the components: the build context of its `Dockerfile`."""

__all__ = ["SERVER_DIR", "Metrics", "contract"]
