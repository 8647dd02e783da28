"""The server image: built from a context with pulumi-docker and pushed, or a prebuilt reference by digest."""

from typing import NotRequired, TypedDict

import pulumi
import pulumi_docker as docker

from infra.config import BuildImage, Image, default


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
    """Push to the repository (false for local clusters that load images directly)."""
    reference: NotRequired[str]
    """A prebuilt image by digest; when set nothing is built."""


class ServerImage(pulumi.ComponentResource):
    """The LangGraph server image (or one built on it), referenced by digest when it lives in a registry."""

    image_ref: pulumi.Output[str]
    """What pods should run: `repository@sha256:...` (or `repository:tag` for an unpushed local build)."""
    digest: pulumi.Output[str]
    """The manifest digest (`sha256:...`), empty for an unpushed local build."""

    def __init__(self, name: str, args: ServerImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("langgraph:index:ServerImage", name, None, opts)
        child = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(parent=self))
        reference = args.get("reference")
        if reference:
            self.image_ref = pulumi.Output.from_input(reference)
        else:
            image_name = (
                f"{args.get('repository', default(Image, 'repository'))}:{args.get('tag', default(Image, 'tag'))}"
            )
            push = args.get("push", default(BuildImage, "push"))
            image = docker.Image(
                f"{name}-build",
                image_name=image_name,
                build=docker.DockerBuildArgs(
                    context=args.get("context", default(BuildImage, "context")),
                    dockerfile=args.get("dockerfile", default(BuildImage, "dockerfile")),
                    platform=args.get("platform", default(BuildImage, "platform")),
                    args=args.get("build_args"),
                ),
                skip_push=not push,
                opts=child,
            )
            self.image_ref = image.repo_digest if push else image.image_name
        self.digest = self.image_ref.apply(lambda ref: ref.split("@", 1)[1] if "@" in ref else "")
        self.register_outputs({"image_ref": self.image_ref, "digest": self.digest})


def is_pinned(image_ref: str) -> bool:
    """Whether an image reference names a digest."""
    return "@sha256:" in image_ref


UNPUSHED_BUILD_SKIP = "CKV_K8S_43=Unpushed local build has no registry digest"


def env_secret_checkov_skips(image: pulumi.Input[str], reads: str) -> pulumi.Output[dict[str, str]]:
    """Inline checkov skips for a workload that reads secrets from env (`reads` says which and why).

    CKV_K8S_35 prefers secret files, but the server image's commands read their settings from env
    (`app.contract.Env`). An unpushed local build has no digest, so CKV_K8S_43 is skipped for it alone.
    """
    return pulumi.Output.from_input(image).apply(
        lambda ref: {
            "checkov.io/skip1": f"CKV_K8S_35={reads}",
            **({} if is_pinned(ref) else {"checkov.io/skip2": UNPUSHED_BUILD_SKIP}),
        }
    )
