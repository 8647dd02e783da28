"""Ingress: only the API paths are public; probes, metrics and the API docs stay inside the cluster."""

from __future__ import annotations

import pytest

import infra
from app import contract
from infra.mocks import run_program
from tests.infra.harness import (
    with_provider,
)
from tests.tokens import Token

OPERATIONAL_PATHS = (contract.HEALTH_PATH, contract.READY_PATH, contract.METRICS_PATH, "/docs", "/openapi.json", "/")


def _args(mode: str) -> dict:
    return {
        "namespace": "team-a",
        "mode": mode,
        "service_name": "api",
        "service_port": 8000,
        "host": "a.example.com",
        "gateway": {"name": "gw", "namespace": "gw-ns"},
        "ingress_class_name": "nginx",
        "tls_issuer": "letsencrypt",
    }


def _public_prefixes(run, mode: str) -> list[str]:
    if mode == "gateway":
        rules = run.one(Token.H_T_T_P_ROUTE).inputs["spec"]["rules"]
        return [m["path"]["value"] for rule in rules for m in rule["matches"] if m["path"]["type"] == "PathPrefix"]
    [rule] = run.one(Token.INGRESS).inputs["spec"]["rules"]
    assert {p["pathType"] for p in rule["http"]["paths"]} == {"Prefix"}
    return [p["path"] for p in rule["http"]["paths"]]


def _routed(prefixes: list[str], path: str) -> bool:
    """Whether a Gateway API / Ingress `Prefix` match (path-element-wise) sends `path` to the server."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


@pytest.mark.parametrize("mode", ["gateway", "ingress"])
def test_only_api_paths_are_routed(mode):
    run = with_provider(lambda o: infra.Ingress("edge", _args(mode), o))
    prefixes = _public_prefixes(run, mode)
    assert sorted(prefixes) == sorted(contract.API_PATH_PREFIXES)
    for path in OPERATIONAL_PATHS:
        assert not _routed(prefixes, path), f"{path} is public in {mode} mode"
    for path in ("/threads/t1/runs/stream", "/runs/wait", "/graphs/review/invoke", "/assistants/search"):
        assert _routed(prefixes, path), path


def test_route_keeps_streams_open_for_the_longest_run():
    run = run_program(lambda: infra.Ingress("edge", {**_args("gateway"), "max_run_seconds": 900}))
    for rule in run.one(Token.H_T_T_P_ROUTE).inputs["spec"]["rules"]:
        assert rule["timeouts"] == {"request": "960s", "backendRequest": "960s"}


@pytest.mark.parametrize(("mode", "kinds"), [("gateway", ["HTTPRoute"]), ("ingress", ["Ingress"]), ("none", [])])
def test_ingress_alone(mode, kinds):
    run = with_provider(lambda o: infra.Ingress("edge", _args(mode), o))
    assert [r.kind for r in run.kubernetes_objects()] == kinds
    if mode == "ingress":
        annotations = run.one(Token.INGRESS).inputs["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
