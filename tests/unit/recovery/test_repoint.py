"""REPOINT on an in-memory ServiceConfig: URL set, restart stamped, rollout awaited, no secret."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from drills.core.clock import FakeClock
from drills.core.errors import WaitTimeout
from drills.core.secrets import masked_password
from drills.recovery.repoint import repoint, rollout_finished
from drills.targets.ports.rollout import RolloutStatus


@dataclass
class FakeConfig:
    """A Secret and a Deployment whose rollout finishes `polls_to_finish` readings after restart."""

    clock: FakeClock
    url: str | None = None
    polls_to_finish: int = 3
    restarts: list[str] = field(default_factory=list)
    generation: int = 1
    polls_since_restart: int = 0

    @property
    def where(self) -> str:
        return "default/secret/shop-database[url]"

    def database_url(self) -> str | None:
        return self.url

    def set_database_url(self, url: str) -> None:
        self.url = url

    def restart(self) -> str:
        self.generation += 1
        self.polls_since_restart = 0
        stamp = self.clock.wall().isoformat()
        self.restarts.append(stamp)
        return stamp

    def rollout(self) -> RolloutStatus:
        self.polls_since_restart += 1
        done = self.polls_since_restart > self.polls_to_finish
        observed = self.generation if self.polls_since_restart > 1 else self.generation - 1
        return RolloutStatus(
            generation=self.generation,
            observed_generation=observed,
            replicas=3,
            updated=3 if done else 1,
            total=3 if done else 4,
            available=3,
            revision=self.generation,
            image="shop:1.0.0",
        )


def test_repoint_sets_the_url_restarts_and_waits_for_the_rollout() -> None:
    clock = FakeClock()
    config = FakeConfig(clock, url="postgresql://app:s3cret@10.0.0.1:5432/shop")
    done = repoint(config, "postgresql://app:n3w@10.0.0.2:5432/shop", clock=clock, poll_s=1.0)
    assert config.url == "postgresql://app:n3w@10.0.0.2:5432/shop"
    assert len(config.restarts) == 1
    assert done.rollout_s == pytest.approx(3.0)  # three readings one poll apart
    assert "s3cret" not in done.summary()
    assert "n3w" not in done.summary()
    assert done.previous == "postgresql://app:***@10.0.0.1:5432/shop"


def test_a_rollout_that_never_finishes_times_out_with_what_was_seen() -> None:
    clock = FakeClock()
    config = FakeConfig(clock, polls_to_finish=10_000)
    with pytest.raises(WaitTimeout, match="1/3 updated, 4 total"):
        repoint(config, "postgresql://app@h/shop", clock=clock, timeout_s=20, poll_s=1.0)


def test_rollout_reading_names_an_unobserved_generation() -> None:
    config = FakeConfig(FakeClock())
    config.restart()
    seen = rollout_finished(config)
    assert not seen.ok
    assert "generation 2 not yet observed" in seen.detail


def test_redact_url_hides_only_the_password() -> None:
    assert (
        masked_password("postgresql://app@127.0.0.1:5432/shop")
        == "postgresql://app@127.0.0.1:5432/shop"
    )
    assert masked_password("postgresql://u:pw@db/shop") == "postgresql://u:***@db/shop"
    assert masked_password(None) == "(none set)"
