"""Where a fault's rollback entry says its target lives, and reaching it again from the entry.

The faults record data only. To replay one after a SIGKILL (`drills rollback`), its entry must
also say how to reach what it touched: a kubeconfig and context, a control socket, a cloud
endpoint. The fixtures wrap the fault in `Located` (or `ClusterBound`, the Kubernetes case) so
its entry carries that, and each replayer opens its cluster with `entry_api`, which allows
exactly the recorded context and namespace and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from drills.core.drill import Fault
from drills.core.errors import ConfigError
from drills.core.safety import Allowlist, JsonScalar, RollbackEntry
from drills.targets.adapters.kube import KubeApi, connect

__all__ = ["ClusterBound", "Located", "entry_api"]


@dataclass
class Located:
    """A fault whose rollback entry also says where to reach what it touched (`where`)."""

    fault: Fault
    where: Mapping[str, JsonScalar] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """The wrapped fault's kind."""
        return self.fault.kind

    @property
    def target(self) -> str:
        """The wrapped fault's target."""
        return self.fault.target

    def describe(self) -> str:
        """The wrapped fault's plan line."""
        return self.fault.describe()

    def rollback_entry(self) -> RollbackEntry:
        """The wrapped fault's entry plus `where`."""
        entry = self.fault.rollback_entry()
        return RollbackEntry(entry.kind, entry.target, {**entry.args, **self.where}, entry.entry_id)

    def apply(self) -> None:
        """Apply the wrapped fault."""
        self.fault.apply()

    def rollback(self) -> None:
        """Roll the wrapped fault back in process."""
        self.fault.rollback()


class ClusterBound(Located):
    """A fault whose rollback entry also names the cluster: kubeconfig path and context."""

    def __init__(self, fault: Fault, kubeconfig: Path, context: str) -> None:
        super().__init__(fault, {"kubeconfig": str(kubeconfig.resolve()), "context": context})


def entry_api(entry: RollbackEntry, namespace: str | None, by_hand: str) -> KubeApi:
    """The cluster the entry names, allowed exactly the recorded context and `namespace`.

    `namespace` None: a cluster-wide target (nodes). An entry that names no cluster cannot be
    replayed; the error says what to run by hand instead (`by_hand`, a whole command).
    """
    kubeconfig, context = entry.args.get("kubeconfig"), entry.args.get("context")
    if not kubeconfig or not context:
        raise ConfigError(
            f"the {entry.kind} entry for {entry.target} does not say which cluster it touched; "
            f"restore it by hand: {by_hand}"
        )
    allowlist = Allowlist(kube_contexts=(str(context),), namespaces=(namespace or "",))
    if namespace:
        allowlist.check_namespace(namespace)
    return connect(Path(str(kubeconfig)), allowlist=allowlist, context=str(context))
