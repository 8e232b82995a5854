"""Which AWS account a set of credentials belongs to: STS GetCallerIdentity, a read-only call.

Preflight compares the answer with the profile's `[safety] aws_accounts` before any drill runs.
Every AWS identity may call GetCallerIdentity (no IAM permission governs it), so a refusal here
is about credentials or reachability, never about rights. The call is bounded: one attempt,
short timeouts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drills.core.errors import ConfigError

try:
    import boto3
    import botocore.config
    import botocore.exceptions
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "checking the AWS account needs the aws extra: pip install 'drills[aws]'"
    ) from exc

__all__ = ["caller_account", "has_credentials"]

TIMEOUT_S = 5.0  # connect and read, each; one attempt


def has_credentials(region: str | None) -> bool:
    """True when boto3's default chain finds credentials (environment, files, SSO, role)."""
    return boto3.Session(region_name=region).get_credentials() is not None


def caller_account(
    *,
    region: str | None,
    endpoint_url: str | None = None,
    credentials: Mapping[str, str] | None = None,
    named_by: str,
) -> str:
    """The 12-digit account id of the credentials (the default chain unless given).

    `endpoint_url` points at an AWS API of our own (the sandbox's moto). Raises ConfigError,
    naming `named_by` (the profile key that makes the run use AWS), when no answer comes.
    """
    options: dict[str, Any] = {"region_name": region, **(credentials or {})}
    settings = botocore.config.Config(
        connect_timeout=TIMEOUT_S, read_timeout=TIMEOUT_S, retries={"max_attempts": 1}
    )
    try:
        client: Any = boto3.client("sts", endpoint_url=endpoint_url, config=settings, **options)
        return str(client.get_caller_identity()["Account"])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError) as exc:
        where = endpoint_url or "AWS STS"
        raise ConfigError(
            f"{named_by}: the run would use AWS, but {where} did not say which account the "
            f"credentials belong to ({type(exc).__name__}). Fix: check the credentials with "
            "`aws sts get-caller-identity` (and AWS_PROFILE), or for the sandbox run "
            "`drills sandbox up` again"
        ) from exc
