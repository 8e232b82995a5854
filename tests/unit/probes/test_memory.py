"""OOM kills over time, the fault that leaks, the raise, and the rollback replay (fake port)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import InjectionFailed
from drills.core.memory import ContainerMemory, MemoryReading, Termination, memory_bytes
from drills.core.safety import Replayed, RollbackEntry
from drills.faults.memory import LEAK_ENV, LeakingRelease
from drills.probes.memory import OomWatch, limit_live, no_oom_kill_since, oom_killed
from drills.recovery.memory_limit import LimitRaise, RaisedLimit
from drills.targets.adapters.kube_rollbacks import restore_template
from fixtures.oom import DEFECT_ENV, RUNBOOK_CONTAINER, raise_for

MI = 2**20


def _killed(pod: str, at: str, *, limit_mib: int = 96, restarts: int = 1) -> ContainerMemory:
    ended = Termination("OOMKilled", 137, at)
    return ContainerMemory(pod, "shop", limit_mib * MI, restarts, last_state=ended)


def _running(pod: str, *, limit_mib: int = 96, deleting: bool = False) -> ContainerMemory:
    return ContainerMemory(pod, "shop", limit_mib * MI, 0, deleting=deleting)


@dataclass
class FakeMemory:
    """The MemoryLimits port in memory: scripted pod views, one template with one container."""

    views: list[list[ContainerMemory]] = field(default_factory=list)
    limits: dict[str, int | None] = field(default_factory=lambda: {"shop": 512 * MI})
    env: dict[str, str] = field(default_factory=dict)
    patches: list[tuple[str, str]] = field(default_factory=list)
    namespace: str = "default"
    name: str = "shop"

    def containers(self) -> list[ContainerMemory]:
        return self.views.pop(0) if len(self.views) > 1 else self.views[0]

    def top(self) -> list[MemoryReading]:
        return []

    def template_limits(self) -> dict[str, int | None]:
        return dict(self.limits)

    def set_memory_limit(self, container: str, quantity: str) -> tuple[str, ...]:
        if container not in self.limits:
            return ()
        self.patches.append((container, quantity))
        self.limits[container] = memory_bytes(quantity)
        return (container,)

    def release(self, container: str, *, env: Mapping[str, str], memory_limit: str) -> None:
        self.env.update(env)
        self.limits[container] = memory_bytes(memory_limit)

    def template(self) -> str:
        return json.dumps({"env": self.env, "limits": self.limits}, sort_keys=True)

    def restore_template(self, template: str) -> bool:
        if template == self.template():
            return False
        saved = json.loads(template)
        self.env, self.limits = saved["env"], saved["limits"]
        return True


def test_kills_on_record_before_the_watch_do_not_count() -> None:
    clock = FakeClock()
    memory = FakeMemory(views=[[_killed("old", "t0")], [_killed("old", "t0")]])
    watch = OomWatch(memory, clock=clock)
    watch.sample()
    clock.sleep(1)
    assert not oom_killed(watch)().ok
    assert watch.kills_since(watch.started_s) == []


def test_a_new_kill_is_detected_and_dated_on_the_drill_clock() -> None:
    clock = FakeClock()
    memory = FakeMemory(views=[[_running("a")], [_running("a")], [_killed("a", "t1")]])
    watch = OomWatch(memory, clock=clock)
    watch.sample()
    clock.sleep(2)
    seen = oom_killed(watch)()
    assert not seen.ok
    assert "no OOM kill yet: a/shop: limit 96Mi, 0 restarts" in seen.detail
    clock.sleep(3)
    seen = oom_killed(watch)()
    assert seen.ok
    assert seen.detail == "OOMKilled (exit 137): a/shop (limit 96Mi)"
    [kill] = watch.kills_since(watch.started_s)
    assert watch.first_seen_s(kill) == watch.started_s + 5


def test_no_kill_since_the_fix_ignores_older_kills_and_catches_new_ones() -> None:
    clock = FakeClock()
    before = [_killed("a", "t1")]
    memory = FakeMemory(views=[before, before, [_killed("a", "t1"), _killed("b", "t9")]])
    watch = OomWatch(memory, clock=clock)
    watch.sample()
    clock.sleep(1)
    fixed_at = clock.now()
    assert no_oom_kill_since(watch, fixed_at)().ok
    clock.sleep(1)
    seen = no_oom_kill_since(watch, fixed_at)()
    assert not seen.ok
    assert seen.detail == "1 OOM kills since the fix: b/shop (limit 96Mi)"


def test_the_raised_limit_is_live_only_when_every_live_pod_runs_under_it() -> None:
    clock = FakeClock()
    rolling = [_running("new", limit_mib=1024), _running("old")]
    done = [_running("new", limit_mib=1024), _running("old", deleting=True)]
    memory = FakeMemory(views=[rolling, done])
    watch = OomWatch(memory, clock=clock)
    live = limit_live(watch, "shop", 2**30)
    seen = live()
    assert not seen.ok
    assert seen.detail == "1/2 pods run shop at 1Gi; still old: 96Mi"
    assert live().detail == "1/1 pods at 1Gi"


def test_no_pod_at_all_is_not_a_live_limit() -> None:
    watch = OomWatch(FakeMemory(views=[[]]), clock=FakeClock())
    assert not limit_live(watch, "shop", 2**30)().ok


def test_the_leak_records_the_whole_template_before_it_acts_and_puts_it_back() -> None:
    memory = FakeMemory(views=[[]])
    fault = LeakingRelease(memory, "shop", leak_kb=128, memory_limit="96Mi")
    original = memory.template()
    entry = fault.rollback_entry()
    assert entry.args == {"template": original}
    assert memory.patches == []  # recorded, nothing changed yet
    fault.apply()
    assert (memory.env, memory.limits) == ({LEAK_ENV: "128"}, {"shop": 96 * MI})
    memory.set_memory_limit("shop", "1Gi")  # the recovery's raise is undone too
    fault.rollback()
    assert memory.template() == original
    fault.rollback()  # idempotent
    assert memory.template() == original


@pytest.mark.parametrize(
    ("container", "leak_kb", "words"),
    [("backend", 128, "no container 'backend'"), ("shop", 0, "leaks nothing")],
)
def test_a_leak_that_cannot_land_is_refused(container: str, leak_kb: int, words: str) -> None:
    fault = LeakingRelease(FakeMemory(views=[[]]), container, leak_kb=leak_kb, memory_limit="96Mi")
    fault.rollback_entry()
    with pytest.raises(InjectionFailed, match=words):
        fault.apply()


def test_the_runbooks_raise_names_no_container_so_every_one_is_raised() -> None:
    memory = FakeMemory(views=[[]], limits={"shop": 96 * MI, "sidecar": None})
    raised = LimitRaise("1Gi").apply(memory)
    assert raised == RaisedLimit("1Gi", ("shop", "sidecar"))
    assert raised.summary() == "limits.memory=1Gi set on shop, sidecar"


def test_a_raise_aimed_at_a_missing_container_sends_nothing_and_says_so() -> None:
    memory = FakeMemory(views=[[]])
    raised = LimitRaise("1Gi", containers=(RUNBOOK_CONTAINER,)).apply(memory)
    assert memory.patches == []
    assert raised.summary() == (
        "limits.memory=1Gi set on no container; no container named 'dhakacart-backend'"
    )


def test_the_defect_switch_aims_the_raise_at_the_runbooks_container() -> None:
    assert raise_for("1Gi", {}) == LimitRaise("1Gi")
    assert raise_for("1Gi", {DEFECT_ENV: "wrong-container"}).containers == (RUNBOOK_CONTAINER,)
    with pytest.raises(pytest.UsageError, match="the only defect is 'wrong-container'"):
        raise_for("1Gi", {DEFECT_ENV: "typo"})


def test_drills_rollback_replays_the_template_once() -> None:
    memory = FakeMemory(views=[[]])
    entry = RollbackEntry("leaking-release", "default/deployment/shop", {"template": ""})
    original = memory.template()
    memory.release("shop", env={LEAK_ENV: "128"}, memory_limit="96Mi")
    recorded = RollbackEntry(entry.kind, entry.target, {"template": original})
    assert restore_template(recorded, memory=memory) is Replayed.RESTORED
    assert restore_template(recorded, memory=memory) is Replayed.ALREADY
    with pytest.raises(Exception, match="records no pod template"):
        restore_template(entry, memory=memory)


def test_after_a_raise_only_kills_under_the_raised_limit_count() -> None:
    clock = FakeClock()
    draining = [_killed("old", "t5"), _running("new", limit_mib=1024)]
    memory = FakeMemory(views=[[_running("old")], draining, draining])
    watch = OomWatch(memory, clock=clock)
    watch.sample()
    clock.sleep(1)
    assert no_oom_kill_since(watch, watch.started_s, limit_bytes=2**30)().ok
    assert not no_oom_kill_since(watch, watch.started_s)().ok
