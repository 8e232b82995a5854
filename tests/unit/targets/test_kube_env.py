"""The JSON patch that sets RATE_LIMIT in a container found by name (RUNBOOKS.md §3.18 step 2)."""

from __future__ import annotations

import pytest

from drills.core.errors import DrillError
from drills.targets.adapters.kube_env import env_patch

SIDECAR = {"name": "proxy", "env": [{"name": "MODE", "value": "edge"}]}
SHOP = {"name": "shop", "env": [{"name": "PORT", "value": "8080"}]}


def test_the_variable_goes_to_the_named_container_not_index_0() -> None:
    patch = env_patch([SIDECAR, SHOP], "shop", "RATE_LIMIT", "10/s")
    assert patch == [
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "shop"},
        {
            "op": "add",
            "path": "/spec/template/spec/containers/1/env/-",
            "value": {"name": "RATE_LIMIT", "value": "10/s"},
        },
    ]


def test_a_set_variable_is_replaced_and_removed_with_tests_on_the_names() -> None:
    shop = {"name": "shop", "env": [{"name": "RATE_LIMIT", "value": "10/s"}]}
    replaced = env_patch([shop], "shop", "RATE_LIMIT", "20/s")
    assert replaced[1] == {
        "op": "test",
        "path": "/spec/template/spec/containers/0/env/0/name",
        "value": "RATE_LIMIT",
    }
    assert replaced[2]["op"] == "replace"
    removed = env_patch([shop], "shop", "RATE_LIMIT", None)
    assert removed[2] == {"op": "remove", "path": "/spec/template/spec/containers/0/env/0"}


def test_nothing_to_change_is_an_empty_patch() -> None:
    shop = {"name": "shop", "env": [{"name": "RATE_LIMIT", "value": "10/s"}]}
    assert env_patch([shop], "shop", "RATE_LIMIT", "10/s") == []
    assert env_patch([SHOP], "shop", "RATE_LIMIT", None) == []


def test_a_container_without_env_gets_a_list() -> None:
    patch = env_patch([{"name": "shop"}], "shop", "RATE_LIMIT", "10/s")
    assert patch[1] == {
        "op": "add",
        "path": "/spec/template/spec/containers/0/env",
        "value": [{"name": "RATE_LIMIT", "value": "10/s"}],
    }


def test_an_unknown_container_is_named_with_the_ones_there_are() -> None:
    with pytest.raises(DrillError, match=r"no container 'web'.*proxy, shop"):
        env_patch([SIDECAR, SHOP], "web", "RATE_LIMIT", "10/s")
