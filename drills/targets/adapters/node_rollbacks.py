"""Replay the node faults' rollbacks from the ledger (RUNBOOKS.md §3.13; `drills rollback`).

After a SIGKILLed harness the nodes must come back schedulable with their heartbeats on, and
the drill's PodDisruptionBudget and stand-in instances must go. The faults
(drills.faults.nodes) record data only; to reach the cluster, the sandbox's control socket or
the cloud API again, the fixtures wrap them (`ClusterBound` for Kubernetes, `Located` for the
others) so their entries also say where. Each replayer reads first and returns
`Replayed.ALREADY` when nothing is left to undo.
"""

from __future__ import annotations

import json
from pathlib import Path

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.ec2_instances import Ec2Instances
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube_nodes import KubeDisruptionBudgets, KubeNodes
from drills.targets.adapters.sandbox_heartbeats import SandboxHeartbeats
from drills.targets.ports.nodes import DisruptionBudgets, Instances, NodeHeartbeats, Nodes

__all__ = [
    "delete_budget",
    "register_rollbacks",
    "resume_heartbeats",
    "terminate_stand_ins",
    "uncordon_nodes",
]

CORDON_KIND = "cordon-nodes"  # = drills.faults.nodes.CordonNodes.kind
SILENCE_KIND = "silence-node"  # = drills.faults.nodes.SilenceNode.kind
PDB_KIND = "disruption-budget"  # = drills.faults.nodes.DisruptionBudget.kind
STAND_IN_KIND = "stand-in-instances"  # = drills.faults.nodes.StandInInstances.kind
_SANDBOX_AWS = {"access_key_id": "testing", "secret_access_key": "testing"}  # moto's


def _names(entry: RollbackEntry, key: str) -> list[str]:
    try:
        names = json.loads(str(entry.args.get(key) or "[]"))
    except ValueError as exc:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} has a bad {key}") from exc
    if not isinstance(names, list):
        raise ConfigError(f"the {entry.kind} entry for {entry.target} has a bad {key}")
    return [str(n) for n in names]


def _uncordon(nodes: Nodes, names: list[str]) -> list[str]:
    changed = [name for name in names if nodes.node(name).unschedulable]
    for name in changed:
        nodes.set_unschedulable(name, unschedulable=False)
    return changed


def uncordon_nodes(entry: RollbackEntry, *, nodes: Nodes | None = None) -> Replayed:
    """`kubectl uncordon` each recorded node still cordoned."""
    names = _names(entry, "nodes")
    nodes = nodes or KubeNodes(entry_api(entry, None, f"kubectl uncordon {' '.join(names)}"), "")
    return Replayed.RESTORED if _uncordon(nodes, names) else Replayed.ALREADY


def resume_heartbeats(
    entry: RollbackEntry, *, heartbeats: NodeHeartbeats | None = None
) -> Replayed:
    """Resume the recorded node's heartbeats unless they run."""
    node = str(entry.args.get("node") or "")
    path = str(entry.args.get("control_socket") or "")
    if not node or (heartbeats is None and not path):
        raise ConfigError(f"the {entry.kind} entry for {entry.target} names no node or socket")
    heartbeats = heartbeats or SandboxHeartbeats(Path(path))
    if heartbeats.beating().get(node, True):
        return Replayed.ALREADY
    heartbeats.set(node, enabled=True)
    return Replayed.RESTORED


def delete_budget(entry: RollbackEntry, *, budgets: DisruptionBudgets | None = None) -> Replayed:
    """Delete the recorded PodDisruptionBudget if it is still there."""
    namespace, kind, name = [*entry.target.split("/"), "", "", ""][:3]
    if kind != "pdb" or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/pdb/<name>")
    if budgets is None:
        api = entry_api(entry, namespace, f"kubectl -n {namespace} delete pdb {name}")
        budgets = KubeDisruptionBudgets(api, namespace)
    return Replayed.RESTORED if budgets.delete(name) else Replayed.ALREADY


def terminate_stand_ins(entry: RollbackEntry, *, instances: Instances | None = None) -> Replayed:
    """Terminate the node instances that were not there when the entry was recorded."""
    before = _names(entry, "before")
    if instances is None:
        region = str(entry.args.get("region") or "")
        endpoint = str(entry.args.get("aws_endpoint") or "")
        if not region or not endpoint:
            raise ConfigError(f"the {entry.kind} entry for {entry.target} names no moto endpoint")
        instances = Ec2Instances.connect(region=region, endpoint_url=endpoint, **_SANDBOX_AWS)
    extra = [s.instance_id for s in instances.describe() if s.instance_id not in set(before)]
    instances.terminate(extra)
    return Replayed.RESTORED if extra else Replayed.ALREADY


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the node kinds."""
    registry.register(CORDON_KIND, uncordon_nodes)
    registry.register(SILENCE_KIND, resume_heartbeats)
    registry.register(PDB_KIND, delete_budget)
    registry.register(STAND_IN_KIND, terminate_stand_ins)
