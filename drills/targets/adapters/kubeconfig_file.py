"""What a kubeconfig file says about contexts, read without talking to any cluster.

Preflight needs the context names and the current context before anything connects; the
official client's `list_kube_config_contexts` also insists on the clusters and users and fails
with a bare TypeError on some malformed files, so the file is read here with PyYAML (which the
kubernetes client brings) and every problem becomes one ConfigError naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.core.errors import ConfigError

try:
    import yaml
except ImportError as exc:  # pragma: no cover - depends on the installed extra
    raise ImportError(
        "reading a kubeconfig needs the k8s extra: pip install 'drills[k8s]'"
    ) from exc

__all__ = ["KubeconfigContexts", "read_contexts"]


@dataclass(frozen=True)
class KubeconfigContexts:
    """The context names of one kubeconfig and its current context (None: not set)."""

    path: Path
    names: tuple[str, ...]
    current: str | None


def read_contexts(path: Path, *, named_by: str) -> KubeconfigContexts:
    """Read `path`'s contexts; `named_by` (e.g. `p.toml: key 'targets.kubeconfig'`) is for errors.

    Raises ConfigError when the file is missing, unreadable, not YAML, or not a kubeconfig.
    """
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{named_by}: {path} does not exist. Fix: run `drills sandbox up` for the sandbox, "
            "or point targets.kubeconfig at the cluster's kubeconfig"
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{named_by}: {path} cannot be read as YAML ({type(exc).__name__}). Fix: point "
            "targets.kubeconfig at a kubeconfig (`kubectl config view` reads it)"
        ) from exc
    contexts = data.get("contexts") if isinstance(data, dict) else None
    entries = contexts if isinstance(contexts, list) else []
    names = [c["name"] for c in entries if isinstance(c, dict) and isinstance(c.get("name"), str)]
    current = data.get("current-context") if isinstance(data, dict) else None
    if (
        not isinstance(contexts, list)
        or len(names) != len(contexts)
        or not all(names)
        or not (current is None or isinstance(current, str))
    ):
        raise ConfigError(
            f"{named_by}: {path} is not a kubeconfig (it needs a `contexts` list of named "
            "entries). Fix: point targets.kubeconfig at a kubeconfig (`kubectl config view`)"
        )
    return KubeconfigContexts(path, tuple(names), current or None)
