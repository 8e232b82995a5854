"""The WAFv2 adapter on moto's in-process mock: association, block rules, clean removal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from drills.targets.adapters.waf import Wafv2Firewall

ALB = "arn:aws:elasticloadbalancing:ap-southeast-1:123456789012:loadbalancer/app/shop/0"


@pytest.fixture
def waf() -> Iterator[Wafv2Firewall]:
    with mock_aws():
        import boto3

        client = boto3.client(
            "wafv2",
            region_name="ap-southeast-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        yield Wafv2Firewall(client, endpoint="moto")


def test_associate_block_and_remove_everything(waf: Wafv2Firewall) -> None:
    arn = waf.create_acl("drills-ddos-1")
    assert arn.startswith("arn:aws:wafv2:")
    assert waf.associated_acl(ALB) is None
    waf.associate("drills-ddos-1", ALB)
    assert waf.associated_acl(ALB) == "drills-ddos-1"
    waf.block("drills-ddos-1", "offenders", ["203.0.113.11", "203.0.113.10"])
    assert waf.blocked("drills-ddos-1") == ["203.0.113.10", "203.0.113.11"]
    assert waf.unblock("drills-ddos-1", "offenders")
    assert waf.blocked("drills-ddos-1") == []
    assert not waf.unblock("drills-ddos-1", "offenders")
    assert waf.disassociate(ALB)
    assert not waf.disassociate(ALB)
    assert waf.delete_acl("drills-ddos-1")
    assert not waf.delete_acl("drills-ddos-1")


def test_deleting_the_acl_deletes_its_block_rules_ip_sets(waf: Wafv2Firewall) -> None:
    waf.create_acl("drills-ddos-2")
    waf.block("drills-ddos-2", "offenders", ["203.0.113.10"])
    assert waf.delete_acl("drills-ddos-2")
    assert waf.client.list_ip_sets(Scope="REGIONAL")["IPSets"] == []
