"""The backup-verification rollbacks' entries: what a replay after a crash needs, or why not."""

from __future__ import annotations

import pytest

from drills.cli.backup_rollbacks import ChainPlan, InstancePlan
from drills.core.errors import ConfigError

CHAIN = ChainPlan(
    kubeconfig="/k/config",
    context="drills-sandbox",
    namespace="default",
    cronjob="shop-db-backup",
    aws_endpoint="http://10.244.1.1:5000",
    bucket="drills-backups",
    prefix="backups/shop/abc123/",
    rds_id="shop-db-abc123",
)


def test_a_chain_entry_round_trips() -> None:
    assert ChainPlan.from_args(CHAIN.args()) == CHAIN


def test_an_instance_entry_round_trips() -> None:
    plan = InstancePlan(
        "/root/pg", "shop-db-test-abc", "http://10.244.1.1:5000", "shop-db-test-abc"
    )
    assert InstancePlan.from_args(plan.args()) == plan


def test_an_entry_without_its_prefix_is_refused_naming_it() -> None:
    args = {k: v for k, v in CHAIN.args().items() if k != "prefix"}
    with pytest.raises(ConfigError, match="lacks prefix"):
        ChainPlan.from_args(args)
