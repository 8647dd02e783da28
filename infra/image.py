"""The server image: built from a context with pulumi-docker and pushed, or a prebuilt reference by digest.

An unpushed build (a kind/k3d cluster that gets images with `kind load` / `k3d image import`) is tagged
`<tag>-<content hash>`: a change to the files Docker would send gives a new tag, so the pods roll, and pods
run it with `imagePullPolicy: IfNotPresent` (see `pull_policy`).
"""

import contextlib
import fnmatch
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_docker as docker

from .config import BuildImage, Image, default


class ServerImageArgs(TypedDict):
    repository: NotRequired[str]
    """Repository to push to, e.g. `ghcr.io/acme/langgraph-server`."""
    tag: NotRequired[str]
    """Tag for the build; the deployment uses the digest, not the tag."""
    context: NotRequired[str]
    """Docker build context directory."""
    dockerfile: NotRequired[str]
    """Path to the Dockerfile."""
    platform: NotRequired[str]
    """Target platform, e.g. `linux/amd64`."""
    build_args: NotRequired[pulumi.Input[dict[str, str]]]
    """Dockerfile `ARG` values, e.g. the base image to build on."""
    push: NotRequired[bool]
    """Push to the repository; false for local clusters that load images directly (tag: `<tag>-<content hash>`)."""
    reference: NotRequired[str]
    """A prebuilt image by digest; when set nothing is built."""


class ServerImage(pulumi.ComponentResource):
    """The LangGraph server image (or one built on it), referenced by digest when it lives in a registry."""

    image_ref: pulumi.Output[str]
    """What pods should run: `repository@sha256:...` (or `repository:<tag>-<content hash>` for an unpushed build)."""
    digest: pulumi.Output[str]
    """The manifest digest (`sha256:...`), empty for an unpushed local build."""

    def __init__(self, name: str, args: ServerImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:ServerImage", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        reference = args.get("reference")
        if reference:
            self.image_ref = pulumi.Output.from_input(reference)
        else:
            repository = args.get("repository", default(Image, "repository"))
            tag = args.get("tag", default(Image, "tag"))
            context = args.get("context", default(BuildImage, "context"))
            dockerfile = args.get("dockerfile", default(BuildImage, "dockerfile"))
            platform = args.get("platform", default(BuildImage, "platform"))
            push = args.get("push", default(BuildImage, "push"))
            image_name: pulumi.Input[str] = f"{repository}:{tag}"
            if not push:
                image_name = pulumi.Output.from_input(args.get("build_args") or {}).apply(
                    lambda build_args: f"{repository}:{tag}-{content_hash(context, dockerfile, platform, build_args)}"
                )
            image = docker.Image(
                f"{name}-build",
                image_name=image_name,
                build=docker.DockerBuildArgs(
                    context=context, dockerfile=dockerfile, platform=platform, args=args.get("build_args")
                ),
                skip_push=not push,
                opts=child,
            )
            self.image_ref = image.repo_digest if push else image.image_name
        self.digest = self.image_ref.apply(lambda ref: ref.split("@", 1)[1] if "@" in ref else "")
        self.register_outputs({"image_ref": self.image_ref, "digest": self.digest})


CONTENT_HASH_LENGTH = 12
_fixed_content_hash: str | None = None


@contextlib.contextmanager
def fixed_content_hash(value: str) -> Iterator[None]:
    """Tag unpushed builds with `value` instead of their content hash, e.g. so rendered snapshots do not change
    with every source edit."""
    global _fixed_content_hash
    previous, _fixed_content_hash = _fixed_content_hash, value
    try:
        yield
    finally:
        _fixed_content_hash = previous


def _ignored(relative: str, patterns: list[str]) -> bool:
    """Whether a `.dockerignore` pattern excludes the path (globs on the path or a parent, `**/` on any part)."""
    parts = relative.split("/")
    parents = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in (p.rstrip("/") for p in patterns):
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch(parent, pattern) for parent in parents):
            return True
    return False


def content_hash(context: str, dockerfile: str, platform: str, build_args: dict[str, str]) -> str:
    """A short hash of what a build depends on: the context's files (less `.dockerignore`d ones), the
    Dockerfile, the platform and the build arguments."""
    if _fixed_content_hash is not None:
        return _fixed_content_hash
    root = Path(context)
    if not root.is_dir():
        raise ValueError(f"ServerImage build context {context!r} is not a directory")
    ignore_file = root / ".dockerignore"
    patterns = [
        line.strip() for line in (ignore_file.read_text().splitlines() if ignore_file.is_file() else [])
        if line.strip() and not line.startswith(("#", "!"))
    ]  # fmt: skip
    digest = hashlib.sha256(json.dumps([platform, sorted(build_args.items())]).encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if not _ignored(relative, patterns):
            digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(Path(dockerfile).read_bytes())
    return digest.hexdigest()[:CONTENT_HASH_LENGTH]


def is_pinned(image_ref: str) -> bool:
    """Whether an image reference names a digest."""
    return "@sha256:" in image_ref


def pull_policy(image_ref: str) -> str:
    """`Always` for an image by digest (the registry is asked, the digest decides); `IfNotPresent` for an unpushed
    build, which only exists where it was loaded (kind, k3d)."""
    return "Always" if is_pinned(image_ref) else "IfNotPresent"


UNPUSHED_BUILD_SKIPS = (
    "CKV_K8S_43=Unpushed local build has no registry digest",
    "CKV_K8S_15=Unpushed local build is loaded into the node, not pulled",
)


def env_secret_checkov_skips(image: pulumi.Input[str], reads: str) -> pulumi.Output[dict[str, str]]:
    """Inline checkov skips for a workload that reads secrets from env (`reads` says which and why).

    CKV_K8S_35 prefers secret files, but the server image's commands read their settings from env
    (`app.contract.Env`). An unpushed local build has no digest and is not pulled, so the digest and pull-policy
    checks are skipped for it alone.
    """
    return pulumi.Output.from_input(image).apply(
        lambda ref: {
            "checkov.io/skip1": f"CKV_K8S_35={reads}",
            **(
                {}
                if is_pinned(ref)
                else {f"checkov.io/skip{n}": skip for n, skip in enumerate(UNPUSHED_BUILD_SKIPS, start=2)}
            ),
        }
    )
