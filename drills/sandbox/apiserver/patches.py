"""The three patch formats the Kubernetes API accepts, applied to plain JSON objects.

- JSON merge patch (RFC 7386): maps merge, ``null`` deletes a key, lists are replaced.
- Strategic merge patch: like a merge patch, but lists of known kinds (containers, env, ports,
  volumes, conditions...) merge element by element on their merge key, ``$patch: delete``
  removes an element and ``$patch: replace`` replaces a whole map or list; the ``$setElementOrder``
  and ``$retainKeys`` directives that kubectl adds are accepted and ignored.
- JSON patch (RFC 6902): add, remove, replace, move, copy, test with JSON pointers.

Every function returns a new object and leaves its inputs untouched; a patch that cannot apply
raises PatchError with the reason.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchError", "apply_json_patch", "apply_merge_patch", "apply_strategic_merge_patch"]

_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "taints": "key",
}
_PORT_KEYS = ("containerPort", "port")


class PatchError(ValueError):
    """A patch that cannot be applied to the current object."""


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return next((k for k in _PORT_KEYS if k in sample), None)
    return _MERGE_KEYS.get(field)


def _strategic_list(field: str, current: Any, patch: list[Any]) -> list[Any]:
    key = _merge_key(field, patch)
    base = current if isinstance(current, list) else []
    if key is None or not all(isinstance(i, dict) for i in patch):
        return copy.deepcopy(patch)
    if any(i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if i.get("$patch") != "replace"]
    result = copy.deepcopy(base)
    for item in patch:
        index = next(
            (
                n
                for n, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item.get(key)
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strategic_map(None, item))
        else:
            result[index] = _strategic_map(result[index], item)
    return result


def _strategic_value(field: str, current: Any, value: Any) -> Any:
    if isinstance(value, dict):
        return _strategic_map(current, value)
    if isinstance(value, list):
        return _strategic_list(field, current, value)
    return copy.deepcopy(value)


def _strategic_map(target: Any, patch: dict[str, Any]) -> Any:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _strategic_value(key, result.get(key), value)
    return result


def apply_strategic_merge_patch(target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a strategic merge patch (the default of `kubectl patch` and `kubectl set image`)."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    result = _strategic_map(target, patch)
    return result if isinstance(result, dict) else {}


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer {pointer!r} must start with '/'")
    tokens = [_unescape(t) for t in pointer[1:].split("/")]
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token, pointer)
    return node, tokens[-1]


def _child(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise PatchError(f"path {pointer!r} does not exist in the object")


def _get(doc: Any, pointer: str) -> Any:
    if pointer == "":
        return doc
    parent, last = _parent(doc, pointer)
    return _child(parent, last, pointer)


def _remove(doc: Any, pointer: str) -> Any:
    parent, last = _parent(doc, pointer)
    value = _child(parent, last, pointer)
    if isinstance(parent, list):
        del parent[int(last)]
    else:
        del parent[last]
    return value


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, last = _parent(doc, pointer)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if index > len(parent):
            raise PatchError(f"index {index} is out of range at {pointer!r}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add below a scalar at {pointer!r}")
    return doc


def _replace(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, last = _parent(doc, pointer)
    _child(parent, last, pointer)
    if isinstance(parent, list):
        parent[int(last)] = value
    else:
        parent[last] = value
    return doc


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    name, path = op.get("op"), str(op.get("path", ""))
    if name == "add":
        return _add(doc, path, copy.deepcopy(op.get("value")))
    if name == "remove":
        _remove(doc, path)
        return doc
    if name == "replace":
        return _replace(doc, path, copy.deepcopy(op.get("value")))
    if name in ("move", "copy"):
        source = str(op.get("from", ""))
        value = _remove(doc, source) if name == "move" else copy.deepcopy(_get(doc, source))
        return _add(doc, path, value)
    if name == "test":
        if _get(doc, path) != op.get("value"):
            raise PatchError(f"test failed at {path!r}")
        return doc
    raise PatchError(f"unknown JSON patch op {name!r}; use add/remove/replace/move/copy/test")


def apply_json_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 6902 JSON patch (a list of operations)."""
    if not isinstance(patch, list):
        raise PatchError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in patch:
        if not isinstance(op, dict):
            raise PatchError(f"JSON patch operation {op!r} is not an object")
        doc = _apply_op(doc, op)
    return doc
