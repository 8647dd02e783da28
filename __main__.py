"""Pulumi program: read and validate this stack's config, build the platform, export what operators need."""

import pulumi

from infra import LangGraphPlatform, load_stack_config, read_secrets

settings = load_stack_config()
secrets = read_secrets()
platform = LangGraphPlatform(
    "langgraph",
    {
        "settings": settings.model_dump(by_alias=True),
        **({"database_url": secrets.database_url} if secrets.database_url is not None else {}),
        **({"provider_keys": secrets.provider_keys} if secrets.provider_keys is not None else {}),
    },
)

pulumi.export("namespace", platform.namespace)
pulumi.export("serviceDnsName", platform.service_dns_name)
pulumi.export("url", platform.url)
pulumi.export("imageDigest", platform.image_digest)
pulumi.export("databaseHost", platform.database_host)
pulumi.export("apiKey", platform.api_key)
