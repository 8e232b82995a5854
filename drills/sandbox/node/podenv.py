"""A container's environment, resolved from its pod spec as the kubelet resolves it.

Order and rules follow the kubelet: ``envFrom`` sources first (ConfigMaps and Secrets, with
their ``prefix``), then ``env`` entries in order, later names replacing earlier ones. A plain
``value`` may refer to variables defined before it as ``$(NAME)`` (``$$`` escapes a dollar);
``valueFrom`` reads ``fieldRef`` (pod name, namespace, uid, labels, annotations, node name,
service account, pod and host IPs), ``resourceFieldRef`` (cpu and memory requests and limits),
``configMapKeyRef`` and ``secretKeyRef``. A missing object or key that is not ``optional``
raises `ContainerConfigError` with the kubelet's own message, which becomes the container's
``CreateContainerConfigError``.

Objects are read through `ObjectReader`, so the rules are tested without an API server.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from drills.sandbox.node.runner import parse_memory

__all__ = ["ContainerConfigError", "ObjectReader", "PodFacts", "resolve_env"]

Json = Mapping[str, Any]
_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_LABEL_PATH = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ContainerConfigError(Exception):
    """The container cannot be configured (a referenced object or key is missing)."""


class ObjectReader(Protocol):
    """Reads the Secrets and ConfigMaps a pod refers to (None when absent)."""

    def read_secret(self, namespace: str, name: str) -> Json | None:
        """A Secret, or None."""
        ...

    def read_config_map(self, namespace: str, name: str) -> Json | None:
        """A ConfigMap, or None."""
        ...


@dataclass(frozen=True)
class PodFacts:
    """What the node knows of a pod beyond its spec: where it runs."""

    pod_ip: str
    host_ip: str
    node_name: str


def resolve_env(
    pod: Json, container: Json, facts: PodFacts, reader: ObjectReader
) -> dict[str, str]:
    """The environment of `container` in `pod`; ContainerConfigError when it cannot be built."""
    namespace = str(pod["metadata"].get("namespace") or "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        env.update(_env_from(namespace, source, reader))
    for item in container.get("env") or []:
        value = _env_value(pod, container, item, facts, reader, env)
        if value is not None:
            env[str(item["name"])] = value
    return env


def expand(value: str, defined: Mapping[str, str]) -> str:
    """Replace ``$(NAME)`` by a defined variable's value; ``$$`` is a literal dollar."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        return defined.get(name, match.group(0))

    return _REFERENCE.sub(one, value)


def _decoded(obj: Json, kind: str) -> dict[str, str]:
    if kind == "Secret":
        data = {k: base64.b64decode(str(v)).decode() for k, v in (obj.get("data") or {}).items()}
        return data | {k: str(v) for k, v in (obj.get("stringData") or {}).items()}
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


def _read(reader: ObjectReader, kind: str, namespace: str, name: str) -> Json | None:
    if kind == "Secret":
        return reader.read_secret(namespace, name)
    return reader.read_config_map(namespace, name)


def _env_from(namespace: str, source: Json, reader: ObjectReader) -> dict[str, str]:
    kind = "Secret" if "secretRef" in source else "ConfigMap"
    ref: Json = source.get("secretRef") or source.get("configMapRef") or {}
    name = str(ref.get("name", ""))
    obj = _read(reader, kind, namespace, name)
    if obj is None:
        if ref.get("optional"):
            return {}
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    prefix = str(source.get("prefix", ""))
    return {prefix + key: value for key, value in _decoded(obj, kind).items()}


def _key_ref(namespace: str, kind: str, ref: Json, reader: ObjectReader) -> str | None:
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    obj = _read(reader, kind, namespace, name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise ContainerConfigError(f'{kind.lower()} "{name}" not found')
    data = _decoded(obj, kind)
    if key not in data:
        if ref.get("optional"):
            return None
        raise ContainerConfigError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


def _env_value(  # noqa: PLR0913 - one env entry and everything it may refer to
    pod: Json,
    container: Json,
    item: Json,
    facts: PodFacts,
    reader: ObjectReader,
    defined: Mapping[str, str],
) -> str | None:
    if "valueFrom" not in item:
        return expand(str(item.get("value", "")), defined)
    ref: Json = item["valueFrom"]
    namespace = str(pod["metadata"].get("namespace") or "default")
    resolvers: dict[str, Callable[[Json], str | None]] = {
        "fieldRef": lambda r: field_value(pod, str(r.get("fieldPath", "")), facts),
        "resourceFieldRef": lambda r: resource_value(container, r),
        "secretKeyRef": lambda r: _key_ref(namespace, "Secret", r, reader),
        "configMapKeyRef": lambda r: _key_ref(namespace, "ConfigMap", r, reader),
    }
    for key, resolver in resolvers.items():
        if key in ref:
            return resolver(ref[key])
    return None


def field_value(pod: Json, path: str, facts: PodFacts) -> str:
    """The value of a ``fieldRef.fieldPath`` the downward API supports."""
    meta, spec = pod["metadata"], pod["spec"]
    simple = {
        "metadata.name": str(meta.get("name", "")),
        "metadata.namespace": str(meta.get("namespace") or "default"),
        "metadata.uid": str(meta.get("uid", "")),
        "spec.nodeName": facts.node_name,
        "spec.serviceAccountName": str(spec.get("serviceAccountName", "")),
        "status.podIP": facts.pod_ip,
        "status.podIPs": facts.pod_ip,
        "status.hostIP": facts.host_ip,
        "status.hostIPs": facts.host_ip,
    }
    if path in simple:
        return simple[path]
    if (match := _LABEL_PATH.match(path)) is not None:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        pairs = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{key}="{value}"' for key, value in pairs)
    raise ContainerConfigError(f"unsupported fieldPath: {path}")


def resource_value(container: Json, ref: Json) -> str:
    """A ``resourceFieldRef`` (cpu or memory request or limit) in units of its divisor."""
    resource = str(ref.get("resource", ""))
    section, _, kind = resource.partition(".")
    if section not in ("limits", "requests") or kind not in ("cpu", "memory"):
        raise ContainerConfigError(f"unsupported container resource: {resource}")
    raw = ((container.get("resources") or {}).get(section) or {}).get(kind)
    if raw is None:
        return "0"
    divisor = str(ref.get("divisor") or "1")
    if kind == "cpu":
        amount, unit = _cpu(str(raw)), _cpu(divisor)
    else:
        amount, unit = Decimal(parse_memory(str(raw))), Decimal(parse_memory(divisor))
    return str(math.ceil(amount / unit))


def _cpu(quantity: str) -> Decimal:
    text = quantity.strip()
    return Decimal(text[:-1]) / 1000 if text.endswith("m") else Decimal(text)
