"""Pod status writes: only changes, bursts as one write, retries, and undoing others' changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from drills.sandbox.node.apiclient import ApiError
from drills.sandbox.node.statussync import StatusSync


class FakeApi:
    def __init__(self, failures: list[int] | None = None) -> None:
        self.patches: list[dict[str, Any]] = []
        self.failures = failures or []
        self.version = 100
        self.wrote = asyncio.Event()

    def patch_pod_status(self, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        if self.failures:
            raise ApiError(self.failures.pop(0), "refused")
        self.patches.append(patch)
        self.version += 1
        self.wrote.set()
        return {"metadata": {"resourceVersion": str(self.version)}}


def status(phase: str, *, ready: str = "False") -> dict[str, Any]:
    return {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": ready}],
        "podIP": "10.244.3.7",
    }


def run(
    scenario: Callable[[StatusSync, FakeApi, dict[str, Any]], Awaitable[None]],
    api: FakeApi,
    *,
    beating: bool = True,
) -> None:
    current: dict[str, Any] = {"status": status("Pending")}

    async def main() -> None:
        sync = StatusSync(
            api,
            ("default", "shop-a", "u-1"),
            lambda: dict(current["status"]),
            coalesce_s=0.01,
            reconcile=lambda: beating,
            retry_s=0.01,
        )
        sync.start()
        try:
            await asyncio.wait_for(scenario(sync, api, current), timeout=5)
        finally:
            await sync.close()

    asyncio.run(main())


async def written(api: FakeApi, count: int) -> None:
    while len(api.patches) < count:
        api.wrote.clear()
        await api.wrote.wait()


def test_first_write_carries_the_uid_and_a_burst_becomes_one_write() -> None:
    api = FakeApi()

    async def scenario(sync: StatusSync, api: FakeApi, current: dict[str, Any]) -> None:
        await written(api, 1)
        for phase in ("Pending", "Running", "Running"):
            current["status"] = status(phase)
            sync.mark()
        await written(api, 2)
        sync.mark()  # nothing changed since: no write
        await sync.flush()

    run(scenario, api)
    assert [p["status"]["phase"] for p in api.patches] == ["Pending", "Running"]
    assert api.patches[0]["metadata"] == {"uid": "u-1"}


def test_a_failed_write_is_tried_again_but_a_gone_pod_is_not() -> None:
    api = FakeApi(failures=[500])

    async def scenario(sync: StatusSync, api: FakeApi, current: dict[str, Any]) -> None:
        await written(api, 1)
        api.failures = [404]
        current["status"] = status("Running")
        await sync.flush()

    run(scenario, api)
    assert [p["status"]["phase"] for p in api.patches] == ["Pending"]


def foreign(version: int, ready: str) -> dict[str, Any]:
    return {"metadata": {"resourceVersion": str(version)}, "status": status("Running", ready=ready)}


def test_a_status_changed_by_others_is_written_again_while_the_node_beats() -> None:
    api = FakeApi()

    async def scenario(sync: StatusSync, api: FakeApi, current: dict[str, Any]) -> None:
        current["status"] = status("Running", ready="True")
        await written(api, 1)
        sync.observe(foreign(api.version - 1, "False"))  # our own older write, seen late
        sync.observe(foreign(api.version, "True"))  # our write as it is
        await sync.flush()
        assert len(api.patches) == 1
        sync.observe(foreign(api.version + 5, "False"))  # the node controller's NotReady
        await written(api, 2)

    run(scenario, api)
    assert api.patches[0] == api.patches[1]


def test_a_silent_node_does_not_fight_back() -> None:
    api = FakeApi()

    async def scenario(sync: StatusSync, api: FakeApi, current: dict[str, Any]) -> None:
        await written(api, 1)
        sync.observe(foreign(api.version + 5, "False"))
        await sync.flush()

    run(scenario, api, beating=False)
    assert len(api.patches) == 1
