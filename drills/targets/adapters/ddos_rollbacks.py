"""Replay the DDoS drill's rollbacks from the ledger (RUNBOOKS.md §3.18; `drills rollback`).

Kinds (drills.recovery.ddos): `waf-association` (disassociate the drill's web ACL and delete
it), `waf-block` (remove the block rule and its IP set), `container-env` (put the recorded
value of the env var back in the named container, or remove it). The WAF entries name the API
endpoint they used: an http(s) URL is the sandbox's moto, anything else the region's AWS API.
A `container-env` entry carries the kubeconfig and context (ClusterBound); the replay checks
them against what was recorded. Each replayer reads first and acts at most once.
"""

from __future__ import annotations

from drills.core.errors import ConfigError
from drills.core.safety import Replayed, RollbackEntry, RollbackRegistry
from drills.targets.adapters.entry_cluster import entry_api
from drills.targets.adapters.kube_env import KubeContainerEnv
from drills.targets.adapters.waf import Wafv2Firewall
from drills.targets.ports.container_env import ContainerEnv
from drills.targets.ports.waf import WebFirewall

__all__ = ["register_rollbacks", "restore_container_env", "undo_waf_association", "undo_waf_block"]

WAF_ASSOCIATION_KIND = "waf-association"  # = drills.recovery.ddos.WAF_ASSOCIATION_KIND
WAF_BLOCK_KIND = "waf-block"  # = drills.recovery.ddos.WAF_BLOCK_KIND
CONTAINER_ENV_KIND = "container-env"  # = drills.recovery.ddos.CONTAINER_ENV_KIND


def _waf(entry: RollbackEntry) -> WebFirewall:
    endpoint, region = str(entry.args.get("endpoint") or ""), str(entry.args.get("region") or "")
    if not region:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no AWS region")
    moto = endpoint if endpoint.startswith(("http://", "https://")) else None
    return Wafv2Firewall.connect(region=region, endpoint_url=moto)


def undo_waf_association(entry: RollbackEntry, *, waf: WebFirewall | None = None) -> Replayed:
    """Disassociate the recorded ACL from the resource and delete it, unless both are gone."""
    acl, resource = str(entry.args.get("acl") or ""), str(entry.args.get("resource_arn") or "")
    if not acl or not resource:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no ACL or resource")
    waf = waf or _waf(entry)
    done = False
    if waf.associated_acl(resource) == acl:
        done = waf.disassociate(resource)
    done = waf.delete_acl(acl) or done
    return Replayed.RESTORED if done else Replayed.ALREADY


def undo_waf_block(entry: RollbackEntry, *, waf: WebFirewall | None = None) -> Replayed:
    """Remove the recorded block rule and its IP set, unless they are gone."""
    acl, rule = str(entry.args.get("acl") or ""), str(entry.args.get("rule") or "")
    if not acl or not rule:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no ACL or rule")
    waf = waf or _waf(entry)
    return Replayed.RESTORED if waf.unblock(acl, rule) else Replayed.ALREADY


def _container_env(entry: RollbackEntry) -> ContainerEnv:
    namespace, kind, name = [*entry.target.split("/"), "", "", ""][:3]
    if kind != "deployment" or not name:
        raise ConfigError(f"rollback target {entry.target!r} is not <namespace>/deployment/<name>")
    by_hand = (
        f"kubectl -n {namespace} set env deployment/{name} "
        f"-c {entry.args.get('container')} {entry.args.get('name')}-"
    )
    return KubeContainerEnv(entry_api(entry, namespace, by_hand), namespace, name)


def restore_container_env(entry: RollbackEntry, *, env: ContainerEnv | None = None) -> Replayed:
    """Put the recorded value back in the named container (None: remove), unless it is there."""
    container, name = str(entry.args.get("container") or ""), str(entry.args.get("name") or "")
    if not container or not name:
        raise ConfigError(f"the {entry.kind} entry for {entry.target} records no container")
    previous = entry.args.get("previous")
    value = None if previous is None else str(previous)
    env = env or _container_env(entry)
    if env.env(container, name) == value:
        return Replayed.ALREADY
    env.patch_env(container, name, value)
    return Replayed.RESTORED


def register_rollbacks(registry: RollbackRegistry) -> None:
    """Register the DDoS drill's kinds."""
    registry.register(WAF_ASSOCIATION_KIND, undo_waf_association)
    registry.register(WAF_BLOCK_KIND, undo_waf_block)
    registry.register(CONTAINER_ENV_KIND, restore_container_env)
