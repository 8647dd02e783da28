"""Labels and the restricted pod security settings every workload here shares."""

from .bundled_server import contract

PART_OF = "langgraph-k8s"
DB_CLIENT_LABEL = "langgraph-k8s.io/postgres-client"


def selector_labels(instance: str, component: str) -> dict[str, str]:
    """The immutable labels a workload's selector matches on."""
    return {
        "app.kubernetes.io/name": "langgraph",
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
    }


def standard_labels(instance: str, component: str) -> dict[str, str]:
    """Selector labels plus the recommended descriptive ones."""
    return {
        **selector_labels(instance, component),
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


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


def run_once_pod(labels: object, container: dict, volumes: tuple[dict, ...] = ()) -> dict:
    """A restricted pod template for a Job: runs once, no service-account token, non-root, read-only root.

    `container` gives name, image, command, env and resources; the security context, image pull policy and
    an emptyDir at `/tmp` (the only writable path) are added here.
    """
    mounts = [*container.get("volumeMounts", []), {"name": TMP_VOLUME, "mountPath": contract.TMP_DIR}]
    return {
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(),
            "containers": [
                {
                    **container,
                    "imagePullPolicy": "Always",
                    "securityContext": container_security_context(),
                    "volumeMounts": mounts,
                }
            ],
            "volumes": [*volumes, {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    }


DNS_EGRESS = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


JOB_LABEL = "langgraph-k8s.io/job"
"""Service label whose value Prometheus uses as the `job` of the server's metrics."""


def metrics_job(instance: str) -> str:
    """The Prometheus `job` of a LangGraphService's metrics."""
    return f"{instance}-server"
