"""After the deploy: drive the running server as a user would, run the CronJobs and a restore, inject faults.

Every step prints one line; a failed expectation raises `E2EError` naming the workload and what was seen.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from langgraph_sdk import get_sync_client

from app import contract
from tests.e2e.kubelet import Container
from tests.e2e.runner import SERVER_COMPONENT, Cluster, E2EError, label, pod_template

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
DOCUMENT = {"title": "Q3 plan", "document": "We will migrate the checkpointer to Postgres. TODO: pick a date."}
RECOVERY_SECONDS = 90


class Api:
    """The server's `/graphs` API over the published port, with an API key when the stack sets `API_KEYS`."""

    def __init__(self, port: int, api_key: str | None):
        self.url = f"http://127.0.0.1:{port}"
        self.api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def post(self, path: str, body: dict, expect: int = 200) -> dict:
        response = self.http.post(path, json=body)
        return self._expect(response, f"POST {path}", expect)

    def get(self, path: str, expect: int = 200, **params: Any) -> dict:
        response = self.http.get(path, params=params)
        return self._expect(response, f"GET {path}", expect)

    @staticmethod
    def _expect(response: httpx.Response, what: str, expect: int) -> dict:
        if response.status_code != expect:
            raise E2EError(f"{what}: expected {expect}, got {response.status_code}: {response.text[:500]}")
        return response.json()

    def stream(self, graph: str, body: dict) -> list[tuple[str, str]]:
        events, event = [], None
        with self.http.stream("POST", f"/graphs/{graph}/stream", json=body) as response:
            if response.status_code != 200:
                raise E2EError(f"stream {graph}: HTTP {response.status_code}: {response.read()[:300]!r}")
            for line in response.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    events.append((event, line.split(":", 1)[1].strip()))
        return events


def check(condition: bool, what: str, seen: Any) -> None:
    if not condition:
        raise E2EError(f"{what}: saw {seen!r}")


def exercise(cluster: Cluster, running: dict[str, list[Container]]) -> None:
    deployment = cluster.render.workload("Deployment", SERVER_COMPONENT)
    (server,) = running[label(deployment)]
    (postgres,) = next(containers for name, containers in running.items() if name.startswith("statefulset/"))
    env = cluster.server_env()
    keys = [key for key in env.get(contract.Env.API_KEYS, "").split(",") if key]
    api = Api(cluster.node.host_ports[contract.HTTP_PORT], keys[0] if keys else None)
    log = cluster.log
    where = label(deployment)

    if keys:
        response = httpx.post(f"{api.url}/graphs/steps/invoke", json={"thread_id": "no-key", "input": {"value": 1}})
        check(response.status_code == 401, f"{where}: a request without the API key is refused", response.status_code)
        log(f"ok  {where}: API_KEYS from the Secret enforced (401 without a key)")

    # The README's walk-through: invoke -> interrupt -> resume, then a stream.
    paused = api.post("/graphs/review/invoke", {"thread_id": "doc-42", "input": DOCUMENT})
    check(paused["status"] == "interrupted" and paused["interrupts"], f"{where}: review pauses at interrupt()", paused)
    state = api.get("/graphs/review/state", thread_id="doc-42")
    check(state.get("next") == ["human_approval"], f"{where}: paused thread waits on human_approval", state)
    done = api.post("/graphs/review/resume", {"thread_id": "doc-42", "resume": {"approved": True, "comment": "ok"}})
    check(done["status"] == "success" and done["state"]["decision"] == "approved", f"{where}: resume finishes", done)
    api.post("/graphs/review/resume", {"thread_id": "doc-42", "resume": True}, expect=409)
    log(f"ok  {where}: invoke -> interrupt -> resume (and 409 on a second resume)")
    events = api.stream("steps", {"thread_id": "s-1", "input": {"value": 1}})
    names = [event for event, _ in events]
    check(names == ["updates", "updates", "updates", "end"], f"{where}: stream of the steps graph", events)
    check('"result is 4"' in events[2][1], f"{where}: streamed result", events)
    log(f"ok  {where}: SSE stream (3 updates, then end)")

    sdk_checks(api, where, log)
    jobs_and_restore(cluster, api, server, where)
    faults(cluster, api, server, postgres, deployment, where)


def sdk_checks(api: Api, where: str, log) -> None:
    with get_sync_client(url=api.url, api_key=api.api_key) as sdk:
        thread = sdk.threads.create(metadata={"e2e": "sdk"})
        result = sdk.runs.wait(thread["thread_id"], "steps", input={"value": 4})
        check(result.get("description") == "result is 10", f"{where}: langgraph-sdk runs.wait", result)
        parts = [part.event for part in sdk.runs.stream(thread["thread_id"], "steps", input={"value": 4})]
        check("values" in parts or "updates" in parts, f"{where}: langgraph-sdk runs.stream", parts)
        review = sdk.threads.create()
        paused = sdk.runs.wait(review["thread_id"], "review", input=DOCUMENT)
        check("__interrupt__" in paused, f"{where}: langgraph-sdk run pauses", paused)
        resumed = sdk.runs.wait(review["thread_id"], "review", command={"resume": {"approved": True}})
        check(resumed.get("decision") == "approved", f"{where}: langgraph-sdk resume", resumed)
    log(f"ok  {where}: langgraph-sdk threads.create, runs.wait, runs.stream, interrupt and Command(resume)")


def jobs_and_restore(cluster: Cluster, api: Api, server: Container, where: str) -> None:
    """Each CronJob's job template once; with a backup CronJob, a restore from its dump as docs/operations.md says."""
    cronjobs = cluster.render.of_kind("CronJob")
    backup = [c for c in cronjobs if c["metadata"]["labels"].get("app.kubernetes.io/component") == "backup"]
    if backup:
        api.post("/graphs/review/invoke", {"thread_id": "before-backup", "input": DOCUMENT})
    for cronjob in cronjobs:
        logs = cluster.run_job(cronjob, what=" (job template, once)")
        if cronjob in backup:
            check("backup written" in logs, f"{label(cronjob)}: backup log", logs)
    if not backup:
        cluster.log("--  no backup CronJob in this stack: restore not exercised")
        return
    (cronjob,) = backup
    api.post("/graphs/review/invoke", {"thread_id": "after-backup", "input": DOCUMENT})
    grace = float(
        pod_template(cluster.render.workload("Deployment", SERVER_COMPONENT))["spec"].get(
            "terminationGracePeriodSeconds", 30
        )
    )
    server.terminate(grace)  # docs step 1: stop everything that writes
    template = restore_template(cronjob, owner_credentials(cluster.render))
    cluster.run_job(cronjob, template=template, what=" as the restore Job of docs/operations.md")
    server.start()
    server.wait_ready(cluster.patience)
    api.get("/graphs/review/state", thread_id="before-backup")
    api.get("/graphs/review/state", thread_id="after-backup", expect=404)
    cluster.log(f"ok  {where}: after the restore, the thread from before the backup is back and the later one gone")


def owner_credentials(render) -> str:
    """The database owner's Secret, found as docs/operations.md finds it (component postgres, named credentials)."""
    (name,) = [
        s["metadata"]["name"]
        for s in render.of_kind("Secret")
        if s["metadata"]["labels"].get("app.kubernetes.io/component") == "postgres"
        and "credentials" in s["metadata"]["name"]
    ]
    return name


def restore_template(cronjob: dict, owner_secret: str) -> dict:
    """The backup CronJob's pod template with the restore command of docs/operations.md (newest dump), run as the
    database owner: the password volume points at the owner's Secret, as the document says (the backup itself
    dumps as a read-only role)."""
    text = OPERATIONS_DOC.read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    commands = [yaml.safe_load(block) for block in blocks if "pg_restore" in block]
    if not commands:
        raise E2EError(f"{OPERATIONS_DOC.name}: no yaml block with the restore command")
    command = commands[0]["command"]
    newest = '"$(ls -1 /backups/*.dump | sort -r | head -n 1)"'
    command = [re.sub(r"^DUMP=.*$", f"DUMP={newest}", part, flags=re.M) for part in command]
    template = yaml.safe_load(yaml.safe_dump(cronjob["spec"]["jobTemplate"]["spec"]["template"]))
    template["spec"]["containers"][0]["command"] = command
    (password,) = [v for v in template["spec"]["volumes"] if v["name"] == "password"]
    password["secret"] = {
        **password["secret"],
        "secretName": owner_secret,
        "items": [{"key": "POSTGRES_PASSWORD", "path": "password"}],
    }
    return template


def faults(cluster: Cluster, api: Api, server: Container, postgres: Container, deployment: dict, where: str) -> None:
    log = cluster.log
    spec = pod_template(deployment)["spec"]

    # kill -9: the kubelet restarts the container; a thread paused before the crash still resumes.
    api.post("/graphs/review/invoke", {"thread_id": "crash-1", "input": DOCUMENT})
    server.kill()
    server.start()
    seconds = server.wait_ready(cluster.patience)
    done = api.post("/graphs/review/resume", {"thread_id": "crash-1", "resume": {"approved": True}})
    check(done["status"] == "success", f"{where}: resume after kill -9", done)
    log(f"ok  {where}: kill -9, restarted and ready in {seconds:.1f} s; the paused thread resumed")

    # Postgres down: 503 database_unavailable with Retry-After, liveness unaffected; back up: recovery.
    statefulset = next(s for s in cluster.render.of_kind("StatefulSet") if label(s) == postgres.workload)
    postgres.terminate(float(pod_template(statefulset)["spec"].get("terminationGracePeriodSeconds", 30)))
    response = api.http.post("/graphs/steps/invoke", json={"thread_id": "db-down", "input": {"value": 1}})
    check(
        response.status_code == 503 and "Retry-After" in response.headers,
        f"{where}: invoke while Postgres is down is a 503 with Retry-After",
        (response.status_code, response.text[:200]),
    )
    health = api.http.get(contract.HEALTH_PATH)
    check(
        health.status_code == 200,
        f"{where}: liveness ({contract.HEALTH_PATH}) while Postgres is down",
        health.status_code,
    )
    log(f"ok  {where}: Postgres stopped: invoke 503 database_unavailable with Retry-After, {contract.HEALTH_PATH} 200")
    postgres.start()
    postgres.wait_ready(cluster.patience)
    deadline = time.monotonic() + RECOVERY_SECONDS
    while True:
        response = api.http.post("/graphs/steps/invoke", json={"thread_id": "db-back", "input": {"value": 1}})
        if response.status_code == 200:
            break
        check(
            response.status_code == 503,
            f"{where}: while Postgres comes back",
            (response.status_code, response.text[:200]),
        )
        if time.monotonic() > deadline:
            raise E2EError(f"{where}: still 503 {RECOVERY_SECONDS} s after Postgres was ready again")
        time.sleep(1)
    server.wait_ready(cluster.patience)
    server.check_healthy()
    log(f"ok  {where}: Postgres restarted: the server recovered without a restart")

    # SIGTERM with preStop and the grace period: a run in flight finishes.
    outcome: dict[str, Any] = {}

    def in_flight() -> None:
        try:
            outcome["response"] = api.http.post(
                "/graphs/steps/invoke",
                json={"thread_id": "draining", "input": {"value": 1, "sleep_seconds": 5}},
                timeout=120,
            )
        except httpx.HTTPError as error:
            outcome["error"] = error

    request = threading.Thread(target=in_flight)
    request.start()
    time.sleep(2)
    grace = float(spec.get("terminationGracePeriodSeconds", 30))
    begun = time.monotonic()
    code = server.terminate(grace)
    request.join(timeout=120)
    response = outcome.get("response")
    check(
        response is not None and response.status_code == 200 and response.json()["status"] == "success",
        f"{where}: the run in flight at SIGTERM finishes",
        outcome,
    )
    check(code == 0, f"{where}: exit code after SIGTERM", code)
    log(
        f"ok  {where}: terminated (preStop, SIGTERM, grace {grace:.0f} s) in {time.monotonic() - begun:.1f} s, "
        "exit 0; the run in flight finished"
    )
