"""A small kubelet over podman: run a pod's containers, evaluate their probes, run lifecycle hooks, stop them.

All pods of a stack join one podman pod (`Node`): one network namespace, so Services resolve to 127.0.0.1
(`--add-host`) and each container port is published on the host's 127.0.0.1 for the httpGet probes and the
test's own requests. Probes follow the manifest: initialDelaySeconds, periodSeconds, timeoutSeconds (exec probes
get one more second for `podman exec` itself to start), successThreshold and failureThreshold.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e import podspec
from tests.e2e.podman import PodmanError, environment, podman

EXEC_START_ALLOWANCE = 1.0


class WorkloadFailure(Exception):
    """A workload did not do what its manifest promises; the message names it and says what failed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Node:
    """The podman pod standing in for a node: shared loopback, Service names, host ports for container ports."""

    name: str
    host_ports: dict[int, int] = field(default_factory=dict)
    created: bool = False

    def create(self, service_hosts: list[str], container_ports: list[int]) -> None:
        args = ["pod", "create", f"--name={self.name}", "--share=net,ipc,uts"]
        for host in service_hosts:
            args.append(f"--add-host={host}:127.0.0.1")
        for port in sorted(set(container_ports)):
            self.host_ports[port] = free_port()
            args.append(f"--publish=127.0.0.1:{self.host_ports[port]}:{port}")
        podman(*args)
        self.created = True

    def remove(self) -> None:
        if self.created:
            podman("pod", "rm", "--force", "--time=0", self.name, check=False, timeout=120)
            self.created = False


@dataclass
class ProbeResult:
    ok: bool
    detail: str


def describe_probe(probe: dict) -> str:
    if "exec" in probe:
        return "exec " + json.dumps(probe["exec"]["command"])
    if "httpGet" in probe:
        get = probe["httpGet"]
        return f"httpGet :{get.get('port')}{get.get('path', '/')}"
    if "tcpSocket" in probe:
        return f"tcpSocket :{probe['tcpSocket'].get('port')}"
    return json.dumps(probe)


@dataclass
class _Schedule:
    kind: str
    probe: dict
    due: float
    failures: int = 0
    successes: int = 0


class Container:
    """One running container of a pod, with its probes evaluated on their own schedule in a thread."""

    def __init__(self, workload: str, name: str, podman_name: str, spec: dict, node: Node):
        self.workload = workload
        self.name = name
        self.podman_name = podman_name
        self.spec = spec
        self.node = node
        self.started = threading.Event()
        self.ready = False
        self.failure: str | None = None
        self.last_result = "no probe run yet"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def label(self) -> str:
        return f"{self.workload} (container {self.name})"

    # --- probes ----------------------------------------------------------------------------------------------

    def port_number(self, port: Any) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for declared in self.spec.get("ports") or []:
            if declared.get("name") == port:
                return int(declared["containerPort"])
        raise WorkloadFailure(f"{self.label}: probe names port {port!r}, which the container does not declare")

    def run_probe(self, probe: dict) -> ProbeResult:
        timeout = float(probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            command = ["podman", "exec", self.podman_name, *probe["exec"]["command"]]
            try:
                result = subprocess.run(
                    command,
                    capture_output=True,
                    text=True,
                    timeout=timeout + EXEC_START_ALLOWANCE,
                    env=environment(),
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return ProbeResult(False, f"timed out after {timeout:.0f} s")
            output = (result.stdout + result.stderr).strip().replace("\n", " | ")
            return ProbeResult(result.returncode == 0, f"exit {result.returncode}: {output[-300:]}")
        if "httpGet" in probe:
            get = probe["httpGet"]
            port = self.node.host_ports.get(self.port_number(get.get("port")))
            if port is None:
                return ProbeResult(False, f"port {get.get('port')} is not published")
            request = urllib.request.Request(f"http://127.0.0.1:{port}{get.get('path', '/')}")
            for header in get.get("httpHeaders") or []:
                request.add_header(header["name"], header["value"])
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
                    return ProbeResult(200 <= response.status < 400, f"HTTP {response.status}")
            except urllib.error.HTTPError as error:
                return ProbeResult(False, f"HTTP {error.code}")
            except OSError as error:
                return ProbeResult(False, f"{type(error).__name__}: {error}")
        if "tcpSocket" in probe:
            port = self.node.host_ports.get(self.port_number(probe["tcpSocket"].get("port")))
            try:
                with socket.create_connection(("127.0.0.1", port or 0), timeout=timeout):
                    return ProbeResult(True, "connected")
            except OSError as error:
                return ProbeResult(False, str(error))
        raise WorkloadFailure(f"{self.label}: probe type {sorted(probe)} is not evaluated by the e2e")

    def state(self) -> dict:
        result = podman("inspect", "--format", "{{json .State}}", self.podman_name, check=False)
        return json.loads(result.stdout) if result.returncode == 0 else {"Status": "missing"}

    def logs(self, lines: int = 15) -> str:
        result = podman("logs", "--tail", str(lines), self.podman_name, check=False)
        return (result.stdout + result.stderr).strip()

    def _exited(self) -> str | None:
        state = self.state()
        if state.get("Status") in ("running", "created", "configured", "initialized"):
            return None
        return f"exited with code {state.get('ExitCode')} (the kubelet would restart it: CrashLoopBackOff)"

    def _fail(self, message: str) -> None:
        if self.failure is None:
            self.failure = f"{self.label}: {message}\n--- last log lines ---\n{self.logs()}"
        self.started.set()

    def _loop(self) -> None:
        """Startup probe until it passes, then liveness and readiness on their own periods."""
        startup = self.spec.get("startupProbe")
        liveness = self.spec.get("livenessProbe")
        readiness = self.spec.get("readinessProbe")
        if startup:
            if self._wait(startup.get("initialDelaySeconds", 0)):
                return
            failures = 0
            while True:
                exited = self._exited()
                if exited:
                    return self._fail(exited + " before its startup probe passed")
                result = self.run_probe(startup)
                self.last_result = result.detail
                if result.ok:
                    break
                failures += 1
                threshold = startup.get("failureThreshold", 3)
                if failures >= threshold:
                    return self._fail(
                        f"startup probe {describe_probe(startup)} failed {failures} times "
                        f"({startup.get('periodSeconds', 10)} s apart): {result.detail}"
                    )
                if self._wait(startup.get("periodSeconds", 10)):
                    return
        self.started.set()
        schedule = [
            _Schedule(kind, probe, time.monotonic() + probe.get("initialDelaySeconds", 0))
            for kind, probe in (("liveness", liveness), ("readiness", readiness))
            if probe
        ]
        self.ready = not readiness
        while not self._stop.is_set():
            exited = self._exited()
            if exited:
                return self._fail(exited)
            for entry in schedule:
                if time.monotonic() < entry.due:
                    continue
                result = self.run_probe(entry.probe)
                self.last_result = result.detail
                entry.due = time.monotonic() + entry.probe.get("periodSeconds", 10)
                if result.ok:
                    entry.failures, entry.successes = 0, entry.successes + 1
                    if entry.kind == "readiness" and entry.successes >= entry.probe.get("successThreshold", 1):
                        self.ready = True
                    continue
                entry.failures, entry.successes = entry.failures + 1, 0
                if entry.failures < entry.probe.get("failureThreshold", 3):
                    continue
                if entry.kind == "liveness":
                    return self._fail(
                        f"liveness probe {describe_probe(entry.probe)} failed {entry.failures} times: "
                        f"{result.detail} (the kubelet would kill and restart it)"
                    )
                self.ready = False
            # Until the next probe is due, but look at the container (a `podman inspect`) at least once a second.
            next_due = min((entry.due for entry in schedule), default=time.monotonic() + 1)
            self._wait(min(max(next_due - time.monotonic(), 0.05), 1.0))

    def _wait(self, seconds: float) -> bool:
        return self._stop.wait(seconds)

    def start(self, restart: bool = True) -> None:
        """Start probing; first `podman start` the container again unless it was just created running."""
        if restart:
            podman("start", self.podman_name)
        self.failure = None
        self.ready = False
        self.started.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=f"probe-{self.podman_name}", daemon=True)
        self._thread.start()

    def stop_probing(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wait_ready(self, patience: float) -> float:
        """Seconds until started and ready; raises `WorkloadFailure` on a failed probe, an exit, or no readiness."""
        begun = time.monotonic()
        deadline = begun + patience
        while time.monotonic() < deadline:
            if self.failure:
                raise WorkloadFailure(self.failure)
            if self.started.is_set() and self.ready:
                return time.monotonic() - begun
            time.sleep(0.2)
        if self.failure:
            raise WorkloadFailure(self.failure)
        phase = "readiness" if self.started.is_set() else "startup"
        probe = self.spec.get(f"{phase}Probe") or {}
        raise WorkloadFailure(
            f"{self.label}: {phase} probe {describe_probe(probe)} did not pass within {patience:.0f} s "
            f"(last result: {self.last_result})\n--- last log lines ---\n{self.logs()}"
        )

    def check_healthy(self) -> None:
        if self.failure:
            raise WorkloadFailure(self.failure)

    def run_pre_stop(self) -> float:
        """The preStop hook as the kubelet runs it; returns the seconds it took."""
        hook = ((self.spec.get("lifecycle") or {}).get("preStop")) or {}
        begun = time.monotonic()
        if "sleep" in hook:
            time.sleep(float(hook["sleep"]["seconds"]))
        elif "exec" in hook:
            podman("exec", self.podman_name, *hook["exec"]["command"], check=False, timeout=600)
        elif "httpGet" in hook:
            self.run_probe({"httpGet": hook["httpGet"], "timeoutSeconds": 30})
        elif hook:
            raise WorkloadFailure(f"{self.label}: preStop {sorted(hook)} is not run by the e2e")
        return time.monotonic() - begun

    def terminate(self, grace_seconds: float) -> int:
        """Pod deletion: preStop, then the stop signal, SIGKILL when the grace period is over; the exit code."""
        self.stop_probing()
        spent = self.run_pre_stop()
        remaining = max(int(grace_seconds - spent), 0)
        try:
            podman("stop", f"--time={remaining}", self.podman_name, timeout=remaining + 60)
        except PodmanError as error:
            raise WorkloadFailure(f"{self.label}: did not stop: {error}") from error
        return int(self.state().get("ExitCode", -1))

    def kill(self) -> None:
        self.stop_probing()
        podman("kill", "--signal=KILL", self.podman_name)
        podman("wait", self.podman_name, check=False, timeout=60)


def pod_ports(pod_spec: dict) -> list[int]:
    return [
        int(port["containerPort"])
        for container in pod_spec.get("containers") or []
        for port in container.get("ports") or []
    ]


def image_user(image: str) -> str:
    return podman("image", "inspect", "--format", "{{.Config.User}}", image).stdout.strip()


def create_container(
    node: Node,
    pod: podspec.Pod,
    container: dict,
    objects: podspec.Objects,
    image: str,
    podman_name: str,
) -> None:
    """Create and start the container (`podman run --detach`: `podman create` of podman 4.3 has no --passwd)."""
    args = podspec.create_args(pod, container, objects, image, image_user(image), node.name, podman_name)
    podman("run", "--detach", *args)


def work_dir(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir(parents=True, exist_ok=True)
    return path
