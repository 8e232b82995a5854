"""Protocol ports: what the drill vocabulary may ask of a target, whatever environment it is.

Adapters in `drills.targets.adapters` satisfy these for the sandbox, containers and real
environments; unit tests satisfy them with in-memory fakes. Nothing here imports an SDK.
"""

from drills.targets.ports.data import Database, SnapshotStore
from drills.targets.ports.load import LoadGenerator
from drills.targets.ports.workload import PodState, Workload, WorkloadEvent

__all__ = ["Database", "LoadGenerator", "PodState", "SnapshotStore", "Workload", "WorkloadEvent"]
