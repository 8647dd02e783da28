"""`make e2e`: run what `python -m infra.render` produces, in containers, in the order a deploy runs it.

    python -m tests.e2e [--stack dev --stack prod] [--patience SECONDS]

Per stack: the render (the same objects `python -m infra.render` writes; redacted secret values replaced by
generated test values) -> the Postgres StatefulSet until its startup and readiness probes pass -> the migration
Job to completion -> the server Deployment until startup and readiness -> each CronJob's job template once
(prune, backup) -> a restore from that backup (docs/operations.md) -> the server driven over HTTP and with the
official langgraph-sdk -> faults: kill -9 of the server, a Postgres restart, SIGTERM with the manifest's preStop
and terminationGracePeriodSeconds. Every check prints one line; the first failure stops the run with a message
naming the workload and what failed. Everything created (containers, pods, image tags, directories) is removed
at the end, also on failure or interruption. See docs/e2e.md.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import copy
import secrets
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infra import mocks, render
from infra.config import POSTGRES_IMAGE
from tests.e2e import kubelet, podspec
from tests.e2e.images import Images
from tests.e2e.kubelet import Container, Node, WorkloadFailure
from tests.e2e.podman import INSTALL_HINT, PodmanError, missing_tools, podman

STACKS = ("dev", "prod")
DEFAULT_PATIENCE = 240.0
"""The longest the e2e waits for a probe to pass or a Job to finish, when the manifest allows longer."""
SERVER_COMPONENT = "server"


class E2EError(Exception):
    """The e2e failed; the message says which workload and what."""


def say(line: str) -> None:
    print(line, flush=True)


# --- the render -------------------------------------------------------------------------------------------------


@dataclass
class Render:
    """A rendered stack: its Kubernetes objects (as written to disk) and test values for its Secrets."""

    stack: str
    objects: list[dict[str, Any]]
    secret_values: dict[str, dict[str, str]]
    server_repositories: set[str]
    """Repositories of the server image the stack builds (workloads name it by tag or by digest)."""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def workload(self, kind: str, component: str) -> dict[str, Any]:
        """The one object of `kind` whose `app.kubernetes.io/component` label is `component`."""
        (found,) = [
            o for o in self.of_kind(kind) if o["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        return found

    @property
    def namespace(self) -> str:
        (namespace,) = {o["metadata"]["namespace"] for o in self.objects if o["metadata"].get("namespace")}
        return namespace


def load_render(stack: str) -> Render:
    """Render `stack` as `python -m infra.render` does; Secret values come from the same program, with every
    generated password replaced by a fresh random one (the render itself only ever holds `<secret:redacted>`)."""
    files = render.render_stack(stack)
    objects = [yaml.safe_load(text) for name, text in sorted(files.items()) if name != render.INDEX_FILE]
    password = secrets.token_hex(16)
    values: dict[str, dict[str, str]] = {}
    program = mocks.run_stack(stack)
    repositories = {
        str(r.wire_inputs.get("imageName", "")).rsplit(":", 1)[0]
        for r in program.resources
        if r.type == "docker:index/image:Image"
    }
    for resource in program.kubernetes_objects():
        inputs = resource.wire_inputs
        if inputs.get("kind") != "Secret":
            continue
        name = render._manifest(resource)["metadata"]["name"]
        data = {k: base64.b64decode(v).decode() for k, v in (mocks.reveal(inputs.get("data")) or {}).items()}
        data.update(mocks.reveal(inputs.get("stringData")) or {})
        values[name] = {k: str(v).replace(mocks.MOCK_PASSWORD, password) for k, v in data.items()}
    for secret in (o for o in objects if o["kind"] == "Secret"):
        if secret["metadata"]["name"] not in values:
            raise E2EError(f"secret/{secret['metadata']['name']}: no values found for the rendered Secret")
    return Render(stack, objects, values, repositories)


def pod_template(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def label(workload: dict) -> str:
    return f"{workload['kind'].lower()}/{workload['metadata']['name']}"


# --- one stack on one podman pod -----------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The objects of one rendered stack running on one `Node`."""

    render: Render
    images: Images
    root: Path
    patience: float
    log: Callable[[str], None]
    node: Node = field(init=False)
    objects: podspec.Objects = field(init=False)
    containers: dict[str, Container] = field(default_factory=dict)
    runs: int = 0

    def __post_init__(self) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.node = Node(f"{pod_prefix(self.images.run_id)}{self.render.stack}-{suffix}")
        namespace = self.render.namespace
        self.objects = podspec.Objects(
            namespace=namespace,
            config_maps={c["metadata"]["name"]: dict(c.get("data") or {}) for c in self.render.of_kind("ConfigMap")},
            secrets=self.render.secret_values,
            claims={c["metadata"]["name"] for c in self.render.of_kind("PersistentVolumeClaim")},
            services=self.render.of_kind("Service"),
        )

    def start_node(self) -> None:
        namespace = self.render.namespace
        hosts = []
        for service in self.render.of_kind("Service"):
            name = service["metadata"]["name"]
            hosts += [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]
        ports = [
            port
            for kind in ("Deployment", "StatefulSet")
            for workload in self.render.of_kind(kind)
            for port in kubelet.pod_ports(pod_template(workload)["spec"])
        ]
        self.node.create(hosts, ports)
        services = ", ".join(s["metadata"]["name"] for s in self.render.of_kind("Service"))
        self.log(f"node {self.node.name}: Services {services} on 127.0.0.1, ports {self.node.host_ports}")

    def image_for(self, reference: str, where: str) -> str:
        """The local image standing in for a rendered image reference."""
        repository = reference.split("@", 1)[0]
        if "@" not in reference and ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        if repository in self.render.server_repositories:
            return self.images.server
        if reference == POSTGRES_IMAGE:
            return self.images.postgres
        raise E2EError(f"{where}: no local stand-in for image {reference!r}")

    def start_pod(self, workload: dict, template: dict | None = None) -> list[Container]:
        """Create and start a pod of `workload` (its init containers to completion first)."""
        template = template or pod_template(workload)
        spec = template["spec"]
        self.runs += 1
        ordinal = "0" if workload["kind"] == "StatefulSet" else str(self.runs)
        name = f"{workload['metadata']['name']}-{ordinal}"
        claim_names = {
            claim["metadata"]["name"]: f"{claim['metadata']['name']}-{workload['metadata']['name']}-0"
            for claim in workload["spec"].get("volumeClaimTemplates") or []
        }
        pod = podspec.Pod(
            name=name,
            spec=spec,
            work_dir=kubelet.work_dir(self.root / "pods", f"{name}-{self.runs}"),
            claims_dir=kubelet.work_dir(self.root, "claims"),
            claim_names=claim_names,
        )
        where = label(workload)
        started = []
        try:
            for init in spec.get("initContainers") or []:
                container = self._create(workload, pod, init)
                code = int(podman("wait", container.podman_name, timeout=self.patience).stdout.strip() or -1)
                if code != 0:
                    raise WorkloadFailure(f"{container.label}: init container exited {code}\n{container.logs()}")
            for spec_container in spec["containers"]:
                container = self._create(workload, pod, spec_container)
                container.start(restart=False)
                started.append(container)
        except podspec.SpecError as error:
            raise E2EError(f"{where}: {error}") from None
        except PodmanError as error:
            raise E2EError(f"{where}: {error}") from None
        return started

    def _create(self, workload: dict, pod: podspec.Pod, spec_container: dict) -> Container:
        where = f"{label(workload)} (container {spec_container['name']})"
        image = self.image_for(spec_container["image"], where)
        podman_name = f"{self.node.name}-{pod.name}-{spec_container['name']}"
        kubelet.create_container(self.node, pod, spec_container, self.objects, image, podman_name)
        container = Container(label(workload), spec_container["name"], podman_name, spec_container, self.node)
        self.containers[podman_name] = container
        return container

    def remove_container(self, container: Container) -> None:
        container.stop_probing()
        podman("rm", "--force", "--time=0", container.podman_name, check=False)
        self.containers.pop(container.podman_name, None)

    def run_until_ready(self, workload: dict) -> list[Container]:
        containers = self.start_pod(workload)
        patience = self.patience
        for container in containers:
            seconds = container.wait_ready(patience)
            self.log(f"ok  {container.label}: started and ready in {seconds:.1f} s")
        return containers

    def run_job(self, workload: dict, template: dict | None = None, what: str = "") -> str:
        """Run a Job (or a CronJob's job template) as the Job controller does: a new pod per attempt, up to
        backoffLimit retries, within activeDeadlineSeconds; returns the succeeding pod's logs."""
        job_spec = workload["spec"]["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else workload["spec"]
        template = template or job_spec["template"]
        attempts = int(job_spec.get("backoffLimit", 6)) + 1
        deadline = min(float(job_spec.get("activeDeadlineSeconds") or self.patience), self.patience)
        begun = time.monotonic()
        failures = []
        for attempt in range(1, attempts + 1):
            (container,) = self.start_pod(workload, template=template)
            container.stop_probing()
            remaining = deadline - (time.monotonic() - begun)
            result = podman("wait", container.podman_name, timeout=max(remaining, 1), check=False)
            logs = container.logs(lines=40)
            code = result.stdout.strip()
            if result.returncode != 0 or not code:
                raise E2EError(f"{label(workload)}{what}: did not finish within {deadline:.0f} s\n{logs}")
            if code == "0":
                last_line = logs.splitlines()[-1][:160] if logs else "(no output)"
                seconds = time.monotonic() - begun
                self.log(f"ok  {label(workload)}{what}: completed (attempt {attempt}, {seconds:.1f} s): {last_line}")
                return logs
            failures.append(f"attempt {attempt} exited {code}: {logs.splitlines()[-1] if logs else ''}")
            time.sleep(1)
        raise E2EError(
            f"{label(workload)}{what}: failed {attempts} times (backoffLimit)\n"
            + "\n".join(failures)
            + f"\n--- last log lines ---\n{logs}"
        )

    def server_env(self) -> dict[str, str]:
        deployment = self.render.workload("Deployment", SERVER_COMPONENT)
        template = pod_template(deployment)
        pod = podspec.Pod(name="env", spec=template["spec"], work_dir=self.root, claims_dir=self.root)
        return podspec.container_env(pod, template["spec"]["containers"][0], self.objects)

    def remove_all(self) -> None:
        for container in list(self.containers.values()):
            container.stop_probing()
        self.node.remove()
        self.containers.clear()


# --- the stack's whole run -----------------------------------------------------------------------------------------


def deploy(cluster: Cluster, stop_after: str | None = None) -> dict[str, list[Container]]:
    """The workloads in the order `pulumi up` creates and awaits them; returns the long-running pods."""
    rendered = cluster.render
    unsupported = {o["kind"] for o in rendered.objects} & {"DaemonSet", "ReplicaSet", "Pod"}
    if unsupported:
        raise E2EError(f"the render has {sorted(unsupported)}, which the e2e does not run yet")
    running: dict[str, list[Container]] = {}
    for statefulset in rendered.of_kind("StatefulSet"):
        running[label(statefulset)] = cluster.run_until_ready(statefulset)
    if stop_after == "StatefulSet":
        return running
    for job in rendered.of_kind("Job"):
        cluster.run_job(job)
    if stop_after == "Job":
        return running
    for deployment in rendered.of_kind("Deployment"):
        running[label(deployment)] = cluster.run_until_ready(deployment)
    return running


def run_stack(
    stack_render: Render,
    images: Images,
    root: Path,
    patience: float = DEFAULT_PATIENCE,
    stop_after: str | None = None,
    log: Callable[[str], None] = say,
) -> None:
    """Everything the e2e does with one rendered stack; raises `E2EError` naming the first failure."""
    prefix = f"[e2e {stack_render.stack}] "
    cluster = Cluster(stack_render, images, root, patience, lambda line: log(prefix + line))
    try:
        cluster.start_node()
        running = deploy(cluster, stop_after)
        if stop_after:
            return
        from tests.e2e import drive

        drive.exercise(cluster, running)
    except WorkloadFailure as failure:
        raise E2EError(f"stack {stack_render.stack}: {failure}") from None
    except E2EError as error:
        raise E2EError(f"stack {stack_render.stack}: {error}") from None
    finally:
        cluster.remove_all()


# --- resources and cleanup -----------------------------------------------------------------------------------------


def pod_prefix(run_id: str) -> str:
    """Names of the podman pods of one run start with this."""
    return f"langgraph-e2e-{run_id}-"


@contextlib.contextmanager
def session(keep_images: bool = False, log: Callable[[str], None] = say) -> Iterator[tuple[Images, Path]]:
    """Images built once and a scratch directory; both removed on exit, on an exception, at interpreter exit
    and on SIGTERM/SIGINT."""
    missing = missing_tools()
    if missing:
        raise E2EError(f"missing {', '.join(missing)}: {INSTALL_HINT}")
    images = Images(run_id=uuid.uuid4().hex[:8])
    root = Path(tempfile.mkdtemp(prefix="langgraph-e2e-"))
    pause_before = podman("images", "--quiet", "--filter", "reference=localhost/podman-pause").stdout.strip()
    done = threading.Event()

    def cleanup() -> None:
        if done.is_set():
            return
        done.set()
        # Only this run's pods: another e2e may be running on the same machine.
        mine = f"name=^{pod_prefix(images.run_id)}"
        leftovers = podman("pod", "ls", "--quiet", "--filter", mine, check=False).stdout.split()
        for pod_id in leftovers:
            podman("pod", "rm", "--force", "--time=0", pod_id, check=False)
        for tag in images.tags:
            podman("rmi", "--force", tag, check=False)
        if not pause_before:  # podman builds its pod infra image on first use; leave none behind
            pause = podman("images", "--quiet", "--filter", "reference=localhost/podman-pause", check=False)
            for image_id in set(pause.stdout.split()):
                podman("rmi", image_id, check=False)  # not --force: a pod of another run may use it
        shutil.rmtree(root, ignore_errors=True)
        log(f"[e2e] cleaned up: {len(leftovers)} pod(s), {len(images.tags)} image tag(s), {root}")

    atexit.register(cleanup)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        for sig in previous:
            signal.signal(sig, interrupted)
    try:
        images.build(log=lambda line: log(f"[e2e] {line}"))
        yield images, root
    finally:
        cleanup()
        if threading.current_thread() is threading.main_thread():
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def mutated(stack_render: Render, change: Callable[[Render], None]) -> Render:
    """A deep copy of `stack_render` with `change` applied (for the tests that check the e2e fails)."""
    copied = copy.deepcopy(stack_render)
    change(copied)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", action="append", choices=render.available_stacks(), help="default: dev and prod")
    parser.add_argument("--patience", type=float, default=DEFAULT_PATIENCE, help="longest wait for a probe or Job (s)")
    args = parser.parse_args(argv)
    stacks = args.stack or list(STACKS)
    begun = time.monotonic()
    try:
        if missing_tools():
            raise E2EError(f"missing {', '.join(missing_tools())}: {INSTALL_HINT}")
        renders = [load_render(stack) for stack in stacks]
        with session() as (images, root):
            for stack_render in renders:
                run_stack(stack_render, images, root / stack_render.stack, args.patience)
    except (E2EError, PodmanError, RuntimeError, render.RenderError) as error:
        say(f"[e2e] FAILED: {error}")
        return 1
    except KeyboardInterrupt:
        say("[e2e] interrupted; cleaned up")
        return 130
    say(f"[e2e] passed: {', '.join(stacks)} in {time.monotonic() - begun:.0f} s")
    return 0
