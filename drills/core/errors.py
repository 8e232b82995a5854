"""The error hierarchy of a drill; every message says what to do next."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "CouldNotVerify",
    "DrillAborted",
    "DrillError",
    "InjectionFailed",
    "LoadGeneratorDied",
    "RecoveryStepMissing",
    "RollbackFailed",
    "RpoBreached",
    "RtoBreached",
    "SafetyViolation",
    "SteadyStateNotMet",
    "TransientError",
    "WaitTimeout",
]


class DrillError(Exception):
    """Base of every error the harness raises on purpose."""


class TransientError(DrillError):
    """Retrying may help (conflict, throttling, 5xx, connection reset); wait `delay_s` first."""

    def __init__(self, message: str, *, delay_s: float = 1.0) -> None:
        super().__init__(message)
        self.delay_s = delay_s


class ConfigError(DrillError):
    """A profile, option or marker is invalid; the message names the file, key and fix."""

    @classmethod
    def bad_key(cls, path: Path | str, key: str, problem: str, fix: str) -> ConfigError:
        """Build an error that points at one key of one file."""
        return cls(_keyed(path, key, problem, fix))


def _keyed(path: Path | str, key: str, problem: str, fix: str) -> str:
    return f"{path}: key '{key}' {problem}. Fix: {fix}"


class SteadyStateNotMet(DrillError):
    """The system was not healthy before the fault, so the drill cannot judge recovery."""


class CouldNotVerify(DrillError):
    """A check could not run (missing data, unreachable probe); never a PASS."""


class InjectionFailed(DrillError):
    """The fault could not be applied; nothing was measured."""


class RtoBreached(DrillError):
    """Recovery took longer than the service's RTO target."""


class RpoBreached(DrillError):
    """Acknowledged data lost spans more than the service's RPO target."""


class LedgerMismatch(DrillError):
    """The database holds duplicated acknowledged writes or unexplained rows beyond the limits."""


class RecoveryStepMissing(DrillError):
    """A runbook step that must happen did not, or happened out of order."""


class RollbackFailed(DrillError):
    """A rollback did not complete; the fault may still be in place. Run `drills rollback`."""


class DrillAborted(DrillError):
    """The kill switch or the operator stopped the drill; rollbacks have run."""


class LoadGeneratorDied(DrillError):
    """The load generator exited or garbled its stream mid-drill: a harness ERROR, not an outage.

    Without users there is no user-side evidence, so no figure after this point can be trusted.
    The message names the generator, its exit status and the tail of its log.
    """


class WaitTimeout(DrillError):
    """A condition was not met in time; carries the last observed state."""

    def __init__(self, message: str, *, elapsed_s: float, last_observed: str) -> None:
        super().__init__(f"{message} (waited {elapsed_s:.3f} s; last observed: {last_observed})")
        self.elapsed_s = elapsed_s
        self.last_observed = last_observed


class SafetyViolation(DrillError):
    """The drill would touch something the profile does not allow; nothing was done."""

    @classmethod
    def bad_key(cls, path: Path | str, key: str, problem: str, fix: str) -> SafetyViolation:
        """A refusal that points at the profile key allowing (or not) what was asked."""
        return cls(_keyed(path, key, problem, fix))

    @classmethod
    def context_not_allowed(cls, context: str, profile_path: Path | str) -> SafetyViolation:
        """Kube context outside the profile's allowlist."""
        return cls(
            f"kube context '{context}' is not in the allowlist of {profile_path} "
            f"([safety] kube_contexts). Add it there if drills may break it, "
            f"or pass --env with a profile for that cluster."
        )

    @classmethod
    def namespace_not_allowed(cls, namespace: str, profile_path: Path | str) -> SafetyViolation:
        """Namespace outside the profile's allowlist."""
        return cls(
            f"namespace '{namespace}' is not in the allowlist of {profile_path} "
            f"([safety] namespaces). Add it there or target an allowed namespace."
        )

    @classmethod
    def account_not_allowed(cls, account: str, profile_path: Path | str) -> SafetyViolation:
        """AWS account outside the profile's allowlist."""
        return cls(
            f"AWS account '{account}' is not in the allowlist of {profile_path} "
            f"([safety] aws_accounts). Check AWS_PROFILE, or add the account if drills may use it."
        )

    @classmethod
    def blast_radius(cls, wanted: int, allowed: int, what: str) -> SafetyViolation:
        """A fault would touch more than the blast-radius cap allows."""
        return cls(
            f"the fault would touch {wanted} {what} but the blast radius allows {allowed}. "
            f"Lower the fault's fraction or raise [safety] max_fraction in the profile."
        )

    @classmethod
    def blast_radius_zero(cls, total: int, what: str, cap: str) -> SafetyViolation:
        """The cap allows no item of the group at all, so the fault is refused outright."""
        return cls(
            f"the blast radius allows 0 of {total} {what} ({cap}), so the fault was refused and "
            f"nothing was touched: the group is too small to lose part of it. Add {what} (e.g. "
            f"scale the Deployment up) or raise [safety] max_fraction / max_count in the profile."
        )
