"""Translate one container of a rendered pod spec into `podman create` arguments, as a kubelet would run it.

Covered: image, command/args (with `$(VAR)` expansion), env/envFrom from ConfigMaps and Secrets, fieldRefs,
the Service environment variables (enableServiceLinks),
the pod and container securityContext (uid/gid, fsGroup and supplementalGroups, runAsNonRoot,
readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation, privileged, seccomp), resources limits,
workingDir, and the volumes emptyDir (directory, or tmpfs for `medium: Memory`), secret and configMap
(files with their modes, group fsGroup, mounted read-only) and persistentVolumeClaim (a directory that
outlives the pod, group-owned by fsGroup as the kubelet makes it). Anything else is a `SpecError` naming the
field, never silently dropped. `podman kube play` is not used: podman 4.3 panics on Secret volumes.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_VOLUME_MODE = 0o644
SECCOMP = {"RuntimeDefault": None, "Unconfined": "unconfined"}


class SpecError(Exception):
    """The pod spec cannot run as written (a missing reference, a wrong value, an unsupported field)."""


@dataclass
class Objects:
    """The rendered ConfigMaps, Secrets (with test values for the redacted ones) and claims of a namespace."""

    namespace: str
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    claims: set[str] = field(default_factory=set)
    services: list[dict] = field(default_factory=list)


def service_links(services: list[dict]) -> dict[str, str]:
    """The `<NAME>_SERVICE_HOST`/`<NAME>_PORT...` variables the kubelet gives every pod of the namespace
    (enableServiceLinks, on by default), with 127.0.0.1 as each Service's address."""
    env: dict[str, str] = {}
    for service in services:
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = service["spec"].get("ports") or []
        if not ports:
            continue
        env[f"{prefix}_SERVICE_HOST"] = "127.0.0.1"
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        env[f"{prefix}_PORT"] = f"{ports[0].get('protocol', 'TCP').lower()}://127.0.0.1:{ports[0]['port']}"
        for port in ports:
            protocol, number = port.get("protocol", "TCP"), port["port"]
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{port['name'].upper().replace('-', '_')}"] = str(number)
            base = f"{prefix}_PORT_{number}_{protocol}"
            env[base] = f"{protocol.lower()}://127.0.0.1:{number}"
            env.update({f"{base}_PROTO": protocol.lower(), f"{base}_PORT": str(number), f"{base}_ADDR": "127.0.0.1"})
    return env


@dataclass
class Pod:
    """One pod instance: its name, spec and the host directories its volumes live in."""

    name: str
    spec: dict[str, Any]
    work_dir: Path
    claims_dir: Path
    claim_names: dict[str, str] = field(default_factory=dict)
    """Volume name to claim name for StatefulSet volumeClaimTemplates."""


def security(pod_spec: dict, container: dict) -> dict[str, Any]:
    """The effective securityContext: the container's fields over the pod's."""
    merged = {k: v for k, v in (pod_spec.get("securityContext") or {}).items() if k not in ("fsGroup",)}
    merged.update(container.get("securityContext") or {})
    return merged


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` escapes, undefined stay as written."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


def _lookup(objects: Objects, kind: str, ref: dict, key: str | None, where: str) -> Any:
    store = objects.secrets if kind == "secret" else objects.config_maps
    name = ref.get("name")
    if name not in store:
        if ref.get("optional"):
            return None
        raise SpecError(f"{where}: {kind} {name!r} does not exist in namespace {objects.namespace!r}")
    if key is None:
        return store[name]
    if key not in store[name]:
        if ref.get("optional"):
            return None
        raise SpecError(f"{where}: {kind} {name!r} has no key {key!r} (keys: {', '.join(sorted(store[name]))})")
    return store[name][key]


def container_env(pod: Pod, container: dict, objects: Objects) -> dict[str, str]:
    where = f"container {container['name']!r}"
    env = service_links(objects.services) if pod.spec.get("enableServiceLinks", True) else {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            values = _lookup(objects, "configmap", source["configMapRef"], None, f"{where} envFrom")
        elif "secretRef" in source:
            values = _lookup(objects, "secret", source["secretRef"], None, f"{where} envFrom")
        else:
            raise SpecError(f"{where}: unsupported envFrom source {sorted(source)}")
        env.update({f"{prefix}{k}": v for k, v in (values or {}).items()})
    fields = {
        "metadata.name": pod.name,
        "metadata.namespace": objects.namespace,
        "status.podIP": "127.0.0.1",
        "status.hostIP": "127.0.0.1",
        "spec.nodeName": "e2e-node",
        "spec.serviceAccountName": pod.spec.get("serviceAccountName", "default"),
    }
    for item in container.get("env") or []:
        name = item["name"]
        if "value" in item:
            env[name] = expand(str(item["value"]), env)
            continue
        source = item.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = _lookup(objects, "secret", ref, ref.get("key"), f"{where} env {name}")
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            value = _lookup(objects, "configmap", ref, ref.get("key"), f"{where} env {name}")
        elif "fieldRef" in source and source["fieldRef"].get("fieldPath") in fields:
            value = fields[source["fieldRef"]["fieldPath"]]
        else:
            raise SpecError(f"{where}: env {name}: unsupported source {json.dumps(source)}")
        if value is not None:
            env[name] = value
        elif name not in env:
            env[name] = ""
    return env


def _owned_by_fs_group(path: Path, fs_group: int | None, file_mode_mask: int) -> None:
    """What the kubelet does to a volume when the pod has fsGroup: group ownership, group access, setgid dirs."""
    if fs_group is None:
        return
    for current, _dirs, files in os.walk(path):
        os.chown(current, -1, fs_group)
        os.chmod(current, os.stat(current).st_mode & 0o7777 | 0o2070)  # noqa: S103 - what the kubelet does
        for name in files:
            file_path = os.path.join(current, name)
            os.chown(file_path, -1, fs_group)
            os.chmod(file_path, os.stat(file_path).st_mode & 0o7777 | file_mode_mask)


def _key_files(values: dict[str, str], source: dict, target: Path, kind: str, name: str) -> None:
    target.mkdir(parents=True)
    default_mode = source.get("defaultMode", DEFAULT_VOLUME_MODE)
    items = source.get("items") or [{"key": key, "path": key} for key in sorted(values)]
    for item in items:
        if item["key"] not in values:
            if source.get("optional"):
                continue
            raise SpecError(f"{kind} volume: {kind} {name!r} has no key {item['key']!r}")
        path = target / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(values[item["key"]])
        os.chmod(path, item.get("mode", default_mode))
    os.chmod(target, 0o755)  # noqa: S103 - the kubelet's secret/configMap volume directory


def volume_mounts(pod: Pod, container: dict, objects: Objects) -> list[str]:
    """Materialise the container's volumes on the host; the `--volume`/`--tmpfs` arguments that mount them."""
    fs_group = (pod.spec.get("securityContext") or {}).get("fsGroup")
    volumes = {volume["name"]: volume for volume in pod.spec.get("volumes") or []}
    args: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name, target = mount["name"], mount["mountPath"]
        read_only = bool(mount.get("readOnly"))
        if name in pod.claim_names:
            host = _claim_dir(pod, pod.claim_names[name], fs_group)
        elif name not in volumes:
            raise SpecError(f"container {container['name']!r} mounts volume {name!r}, which the pod does not define")
        else:
            volume = volumes[name]
            host = pod.work_dir / "volumes" / name
            if "emptyDir" in volume:
                if volume["emptyDir"].get("medium") == "Memory":
                    args.append(f"--tmpfs={target}:rw,mode=1777")
                    continue
                if not host.exists():
                    host.mkdir(parents=True)
                    os.chmod(host, 0o777)  # noqa: S103 - the kubelet makes emptyDirs world-writable
                    _owned_by_fs_group(host, fs_group, 0)
            elif "secret" in volume or "configMap" in volume:
                kind = "secret" if "secret" in volume else "configmap"
                source = volume["secret" if kind == "secret" else "configMap"]
                ref_name = source.get("secretName") if kind == "secret" else source.get("name")
                values = _lookup(objects, kind, {"name": ref_name, "optional": source.get("optional")}, None, name)
                if not host.exists():
                    _key_files(values or {}, source, host, kind, ref_name)
                    _owned_by_fs_group(host, fs_group, 0o440)
                read_only = True
            elif "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                if claim not in objects.claims:
                    raise SpecError(f"volume {name!r}: PersistentVolumeClaim {claim!r} is not in the render")
                host = _claim_dir(pod, claim, fs_group)
            else:
                kinds = sorted(set(volume) - {"name"})
                raise SpecError(f"volume {name!r}: unsupported volume type {kinds}")
        if mount.get("subPath"):
            host = host / mount["subPath"]
            host.mkdir(parents=True, exist_ok=True)
        args.append(f"--volume={host}:{target}:{'ro' if read_only else 'rw'}")
    return args


def _claim_dir(pod: Pod, claim: str, fs_group: int | None) -> Path:
    """A claim's volume: made once, root-owned 0755 like a fresh provisioned volume, then fsGroup applied per pod."""
    host = pod.claims_dir / claim
    if not host.exists():
        host.mkdir(parents=True)
        os.chmod(host, 0o755)  # noqa: S103 - a freshly provisioned volume
    _owned_by_fs_group(host, fs_group, 0o060)
    return host


def create_args(
    pod: Pod,
    container: dict,
    objects: Objects,
    image: str,
    image_user: str,
    podman_pod: str,
    container_name: str,
) -> list[str]:
    """`podman run` arguments for `container` of `pod`, joined to the podman pod that plays the node."""
    ctx = security(pod.spec, container)
    pod_ctx = pod.spec.get("securityContext") or {}
    where = f"container {container['name']!r}"
    uid = ctx.get("runAsUser")
    if uid is None:
        user = image_user.split(":")[0]
        uid = int(user) if user.isdigit() else (0 if user in ("", "root") else None)
    if ctx.get("runAsNonRoot"):
        if uid is None:
            raise SpecError(f"{where}: runAsNonRoot and the image's user {image_user!r} is not numeric")
        if uid == 0:
            raise SpecError(f"{where}: runAsNonRoot and the container would run as root (uid 0)")
    if ctx.get("privileged"):
        raise SpecError(f"{where}: privileged containers are not run by the e2e")
    args = [
        f"--name={container_name}",
        f"--pod={podman_pod}",
        "--pull=never",
        "--passwd=false",  # containerd adds no passwd line for the uid
        "--read-only-tmpfs=false",  # no tmpfs the manifest did not ask for
        "--log-driver=k8s-file",
    ]
    if ctx.get("runAsUser") is not None or ctx.get("runAsGroup") is not None:
        group = ctx.get("runAsGroup")
        args.append(f"--user={uid}" + (f":{group}" if group is not None else ""))
    for group in [pod_ctx.get("fsGroup"), *(pod_ctx.get("supplementalGroups") or [])]:
        if group is not None:
            args.append(f"--group-add={group}")
    if ctx.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    capabilities = ctx.get("capabilities") or {}
    args += [f"--cap-drop={cap}" for cap in capabilities.get("drop") or []]
    args += [f"--cap-add={cap}" for cap in capabilities.get("add") or []]
    if ctx.get("allowPrivilegeEscalation") is False:
        args.append("--security-opt=no-new-privileges")
    seccomp = (ctx.get("seccompProfile") or {}).get("type")
    if seccomp not in (None, *SECCOMP):
        raise SpecError(f"{where}: seccompProfile type {seccomp!r} is not run by the e2e")
    if SECCOMP.get(seccomp):
        args.append(f"--security-opt=seccomp={SECCOMP[seccomp]}")
    limits = (container.get("resources") or {}).get("limits") or {}
    if "memory" in limits:
        args.append(f"--memory={memory_bytes(limits['memory'])}")
    if "cpu" in limits:
        args.append(f"--cpus={cpu_cores(limits['cpu'])}")
    if container.get("workingDir"):
        args.append(f"--workdir={container['workingDir']}")
    env = container_env(pod, container, objects)
    for name, value in env.items():
        args.append(f"--env={name}={value}")
    args += volume_mounts(pod, container, objects)
    command = [expand(part, env) for part in container.get("command") or []]
    command_args = [expand(part, env) for part in container.get("args") or []]
    if command:
        args.append(f"--entrypoint={json.dumps(command)}")
    args.append(image)
    args += command_args
    return args


_MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def memory_bytes(quantity: str | int) -> int:
    text = str(quantity)
    for unit, factor in _MEMORY_UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


def cpu_cores(quantity: str | int | float) -> float:
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)
