"""Pod building blocks every workload here shares: restricted security contexts, resources, run-once pods."""

import pulumi

from .bundled_server import contract
from .image import pull_policy


def pod_security_context() -> dict:
    """Pod-level settings accepted by Pod Security Admission `restricted`."""
    return {
        "runAsNonRoot": True,
        "runAsUser": contract.RUN_AS_USER,
        "runAsGroup": contract.RUN_AS_GROUP,
        "fsGroup": contract.RUN_AS_GROUP,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    """Container-level settings: non-root, read-only root, no escalation, every capability dropped."""
    return {
        "runAsNonRoot": True,
        "runAsUser": contract.RUN_AS_USER,
        "runAsGroup": contract.RUN_AS_GROUP,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def resources_spec(resources: dict) -> dict:
    """A container `resources` block from {requests: {cpu, memory}, limits: {cpu, memory}}."""
    return {"requests": dict(resources["requests"]), "limits": dict(resources["limits"])}


TMP_VOLUME = "tmp"


def run_once_pod(
    labels: object, container: dict, volumes: tuple[dict, ...] = (), annotations: object | None = None
) -> dict:
    """A restricted pod template for a Job: runs once, no service-account token, non-root, read-only root.

    `container` gives name, image, command, env and resources; the security context, the image's pull policy
    (`infra.image.pull_policy`) and an emptyDir at `/tmp` (the only writable path) are added here.
    """
    mounts = [*container.get("volumeMounts", []), {"name": TMP_VOLUME, "mountPath": contract.TMP_DIR}]
    return {
        "metadata": {"labels": labels, **({"annotations": annotations} if annotations is not None else {})},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "containers": [
                {
                    **container,
                    "imagePullPolicy": pulumi.Output.from_input(container["image"]).apply(pull_policy),
                    "securityContext": container_security_context(),
                    "volumeMounts": mounts,
                }
            ],
            "volumes": [*volumes, {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }
