"""Port for a web application firewall in front of the service (RUNBOOKS.md §3.18, AWS WAFv2).

The DDoS runbook associates a web ACL with the load balancer (step 1) and blocks the offending
client addresses in it (step 4). On the sandbox the adapter talks to moto, which keeps the
state and enforces nothing: the drill reports those steps as state only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["WebFirewall"]


class WebFirewall(Protocol):
    """Web ACLs, their association with a resource, and IP-set block rules, by name."""

    @property
    def endpoint(self) -> str:
        """Where the firewall's API answers (a moto URL, or the AWS region's)."""
        ...

    def create_acl(self, name: str) -> str:
        """Create web ACL `name` (default allow, no rules); return its ARN."""
        ...

    def delete_acl(self, name: str) -> bool:
        """Delete web ACL `name` and its block rules' IP sets; False when it did not exist."""
        ...

    def associate(self, acl_name: str, resource_arn: str) -> None:
        """Associate web ACL `acl_name` with `resource_arn` (e.g. a load balancer)."""
        ...

    def disassociate(self, resource_arn: str) -> bool:
        """Take any web ACL off `resource_arn`; False when none was associated."""
        ...

    def associated_acl(self, resource_arn: str) -> str | None:
        """The name of the web ACL associated with `resource_arn`, or None."""
        ...

    def block(self, acl_name: str, rule: str, addresses: Sequence[str]) -> None:
        """Add rule `rule` to the ACL: block requests from `addresses` (an IP set of /32s)."""
        ...

    def unblock(self, acl_name: str, rule: str) -> bool:
        """Remove rule `rule` and its IP set; False when neither was there."""
        ...

    def blocked(self, acl_name: str) -> list[str]:
        """Every address the ACL's block rules name (without the /32), sorted."""
        ...
