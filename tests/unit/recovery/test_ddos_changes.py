"""The DDoS mitigations and their rollbacks, in process and replayed, against in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from drills.core.errors import DrillError
from drills.core.safety import Replayed
from drills.recovery.ddos import AssociateWebAcl, BlockOffenders, RateLimitRelease
from drills.targets.adapters.ddos_rollbacks import (
    restore_container_env,
    undo_waf_association,
    undo_waf_block,
)

ALB = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/app/shop/0"


@dataclass
class FakeWaf:
    acls: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    associations: dict[str, str] = field(default_factory=dict)
    endpoint: str = "http://127.0.0.1:5000"

    def create_acl(self, name: str) -> str:
        self.acls[name] = {}
        return f"arn:{name}"

    def delete_acl(self, name: str) -> bool:
        return self.acls.pop(name, None) is not None

    def associate(self, acl_name: str, resource_arn: str) -> None:
        self.associations[resource_arn] = acl_name

    def disassociate(self, resource_arn: str) -> bool:
        return self.associations.pop(resource_arn, None) is not None

    def associated_acl(self, resource_arn: str) -> str | None:
        return self.associations.get(resource_arn)

    def block(self, acl_name: str, rule: str, addresses: Sequence[str]) -> None:
        self.acls[acl_name][rule] = tuple(addresses)

    def unblock(self, acl_name: str, rule: str) -> bool:
        return self.acls.get(acl_name, {}).pop(rule, None) is not None

    def blocked(self, acl_name: str) -> list[str]:
        return sorted(a for rule in self.acls.get(acl_name, {}).values() for a in rule)


@dataclass
class FakeEnv:
    env_of: dict[str, dict[str, str]] = field(default_factory=lambda: {"shop": {}})
    target: str = "default/deployment/shop"
    patches: int = 0

    def containers(self) -> list[str]:
        return list(self.env_of)

    def env(self, container: str, name: str) -> str | None:
        return self.env_of[container].get(name)

    def patch_env(self, container: str, name: str, value: str | None) -> str:
        self.patches += 1
        if value is None:
            self.env_of[container].pop(name, None)
        else:
            self.env_of[container][name] = value
        return "[...]"


def test_the_association_is_undone_in_process_and_by_replay() -> None:
    waf = FakeWaf()
    change = AssociateWebAcl(waf, "drills-ddos-1", ALB, "ap-southeast-1")
    entry = change.rollback_entry()
    change.apply()
    assert waf.associated_acl(ALB) == "drills-ddos-1"
    assert entry.args["endpoint"] == waf.endpoint
    assert undo_waf_association(entry, waf=waf) is Replayed.RESTORED
    assert (waf.associations, waf.acls) == ({}, {})
    assert undo_waf_association(entry, waf=waf) is Replayed.ALREADY
    change.rollback()  # idempotent after the replay


def test_an_acl_already_on_the_resource_is_not_displaced() -> None:
    waf = FakeWaf(associations={ALB: "someone-elses"})
    with pytest.raises(DrillError, match="already carries web ACL someone-elses"):
        AssociateWebAcl(waf, "drills-ddos-1", ALB, "ap-southeast-1").apply()
    assert waf.associations == {ALB: "someone-elses"}


def test_the_block_rule_is_removed_by_its_rollback() -> None:
    waf = FakeWaf()
    waf.create_acl("acl")
    block = BlockOffenders(waf, "acl", ("203.0.113.10",), "ap-southeast-1")
    entry = block.rollback_entry()
    block.apply()
    assert waf.blocked("acl") == ["203.0.113.10"]
    assert undo_waf_block(entry, waf=waf) is Replayed.RESTORED
    assert waf.blocked("acl") == []
    assert undo_waf_block(entry, waf=waf) is Replayed.ALREADY


def test_nothing_to_block_is_refused() -> None:
    waf = FakeWaf()
    with pytest.raises(DrillError, match="no offender"):
        BlockOffenders(waf, "acl", (), "ap-southeast-1").apply()


def test_the_rate_limit_goes_to_the_named_container_and_comes_off_again() -> None:
    env = FakeEnv(env_of={"proxy": {}, "shop": {}})
    release = RateLimitRelease(env, "shop", "10/s")
    entry = release.rollback_entry()
    assert entry.args == {"container": "shop", "name": "RATE_LIMIT", "previous": None}
    release.apply()
    assert env.env_of == {"proxy": {}, "shop": {"RATE_LIMIT": "10/s"}}
    assert "container shop (found by name)" in release.describe()
    release.rollback()
    assert env.env_of == {"proxy": {}, "shop": {}}
    assert restore_container_env(entry, env=env) is Replayed.ALREADY
    env.env_of["shop"]["RATE_LIMIT"] = "10/s"  # as a killed harness leaves it
    assert restore_container_env(entry, env=env) is Replayed.RESTORED
    assert env.env_of["shop"] == {}
