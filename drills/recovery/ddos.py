"""The DDoS runbook's mitigations as changes with their rollbacks (RUNBOOKS.md §3.18).

Each is handed to `Drill.prepare`, so its rollback is on disk before it acts, and every rule or
setting the recovery adds is taken away again when the drill ends (newest first): the block
rule and its IP set, then RATE_LIMIT, then the web ACL's association and the ACL itself.
`drills rollback` replays the same entries after a crash (drills.targets.adapters.ddos_rollbacks).

- `AssociateWebAcl`: step 1, `aws wafv2 associate-web-acl`. On moto the association is state
  only: moto filters no request.
- `RateLimitRelease`: step 2, RATE_LIMIT JSON-patched into the container NAMED, not blindly
  into container 0, and taken out again by the rollback.
- `BlockOffenders`: step 4 in its safe form, the offending /32s blocked in the web ACL; never a
  security-group rule opening 443 to 0.0.0.0/0 (the seed's command, RUNBOOKS.md §5.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drills.core.errors import DrillError
from drills.core.safety import RollbackEntry
from drills.targets.ports.container_env import ContainerEnv
from drills.targets.ports.waf import WebFirewall

__all__ = [
    "CONTAINER_ENV_KIND",
    "SAFE_BLOCK_FORM",
    "WAF_ASSOCIATION_KIND",
    "WAF_BLOCK_KIND",
    "AssociateWebAcl",
    "BlockOffenders",
    "RateLimitRelease",
]

WAF_ASSOCIATION_KIND = "waf-association"
WAF_BLOCK_KIND = "waf-block"
CONTAINER_ENV_KIND = "container-env"
SAFE_BLOCK_FORM = (
    "the offending addresses blocked as /32s in the web ACL; no security-group rule is "
    "touched (the seed's command opens 443 to 0.0.0.0/0, RUNBOOKS §5.2)"
)


@dataclass
class AssociateWebAcl:
    """Create web ACL `acl_name` and associate it with `resource_arn` (the load balancer)."""

    waf: WebFirewall
    acl_name: str
    resource_arn: str
    region: str
    kind: str = WAF_ASSOCIATION_KIND

    @property
    def target(self) -> str:
        """The resource the ACL goes on."""
        return f"wafv2/{self.resource_arn}"

    def describe(self) -> str:
        """The runbook's command with our ACL."""
        return (
            f"aws wafv2 associate-web-acl --resource-arn {self.resource_arn} "
            f"--web-acl-arn <web ACL {self.acl_name}>"
        )

    def rollback_entry(self) -> RollbackEntry:
        """The ACL, the resource and where the WAF API answers."""
        args = {
            "acl": self.acl_name,
            "resource_arn": self.resource_arn,
            "endpoint": self.waf.endpoint,
            "region": self.region,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Create the ACL and associate it; refuse to displace an ACL already there."""
        present = self.waf.associated_acl(self.resource_arn)
        if present is not None:
            raise DrillError(
                f"{self.resource_arn} already carries web ACL {present}; the drill will not "
                "replace it (disassociate it by hand if it is a leftover)"
            )
        self.waf.create_acl(self.acl_name)
        self.waf.associate(self.acl_name, self.resource_arn)

    def rollback(self) -> None:
        """Disassociate our ACL (only ours) and delete it; idempotent."""
        if self.waf.associated_acl(self.resource_arn) == self.acl_name:
            self.waf.disassociate(self.resource_arn)
        self.waf.delete_acl(self.acl_name)


@dataclass
class RateLimitRelease:
    """Set env `name`=`value` in container `container` by JSON patch; the rollback unsets it."""

    env: ContainerEnv
    container: str
    value: str
    name: str = "RATE_LIMIT"
    kind: str = CONTAINER_ENV_KIND
    patch: str = ""
    _previous: str | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        """The Deployment patched."""
        return self.env.target

    def describe(self) -> str:
        """The runbook's patch, on the container named."""
        return (
            f"kubectl patch {self.target.split('/', 1)[1]} --type=json: add env "
            f"{self.name}={self.value} to container {self.container} (found by name)"
        )

    def rollback_entry(self) -> RollbackEntry:
        """Remember the value the container has now (None: unset), to put it back."""
        self._previous = self.env.env(self.container, self.name)
        args: dict[str, str | None] = {
            "container": self.container,
            "name": self.name,
            "previous": self._previous,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Send the JSON patch (it tests the container's name at the index it writes)."""
        self.patch = self.env.patch_env(self.container, self.name, self.value)

    def rollback(self) -> None:
        """Put the previous value back (or remove the variable); idempotent."""
        if self.env.env(self.container, self.name) != self._previous:
            self.env.patch_env(self.container, self.name, self._previous)


@dataclass
class BlockOffenders:
    """Block `addresses` in web ACL `acl_name` with rule `rule` (an IP set of /32s)."""

    waf: WebFirewall
    acl_name: str
    addresses: tuple[str, ...]
    region: str
    rule: str = "ddos-offenders"
    kind: str = WAF_BLOCK_KIND

    @property
    def target(self) -> str:
        """The web ACL changed."""
        return f"wafv2/webacl/{self.acl_name}"

    def describe(self) -> str:
        """What is blocked, and how."""
        return f"block {', '.join(self.addresses)} in web ACL {self.acl_name} (rule {self.rule})"

    def rollback_entry(self) -> RollbackEntry:
        """The ACL, the rule and where the WAF API answers."""
        args = {
            "acl": self.acl_name,
            "rule": self.rule,
            "endpoint": self.waf.endpoint,
            "region": self.region,
        }
        return RollbackEntry(self.kind, self.target, args)

    def apply(self) -> None:
        """Add the block rule; nothing to block is a harness error."""
        if not self.addresses:
            raise DrillError("step 4 was given no offender to block")
        self.waf.block(self.acl_name, self.rule, self.addresses)

    def rollback(self) -> None:
        """Remove the rule and its IP set; idempotent."""
        self.waf.unblock(self.acl_name, self.rule)
