"""How a locustfile declares acknowledged writes (its public face: drills.load.acknowledge).

A request whose context is `ack_context(key, payload_hash)` and whose answer is any 2xx becomes
an acknowledged write in the drill's write ledger (streamed by
`drills.targets.adapters.locust_stream`); a read-back with `read_context(key)` answered 404 is a
lost-write signal. After recovery the ledger is compared with what the service's database holds,
read through the profile's `[services.<name>.ledger]` (table, key column, hash column), so the
hash must be the one the service stores for that key. Pure: no Locust import, usable anywhere::

    from drills.load.acknowledge import ack_context, read_context

    self.client.put(f"/notes/{key}", json=body, context=ack_context(key, digest))
    self.client.get(f"/notes/{key}", context=read_context(key))
"""

from __future__ import annotations

__all__ = ["ack_context", "acknowledged_write", "read_context"]


def ack_context(key: str, payload_hash: str) -> dict[str, str]:
    """The request context of a write: acknowledged when the answer is a 2xx."""
    if not key or not payload_hash:
        raise ValueError("an acknowledged write needs its key and its payload hash")
    return {"ack_key": key, "payload_hash": payload_hash}


def read_context(key: str) -> dict[str, str]:
    """The request context of a read-back: a 404 names `key` as a lost write."""
    if not key:
        raise ValueError("a read-back needs the key it reads")
    return {"read_key": key}


def acknowledged_write(context: object, status: int) -> tuple[str, str] | None:
    """(key, payload hash) when a request with `context` answered `status` acknowledged a write.

    `ack_key` writes are acknowledged by any 2xx answer; the demo shop's `order_key` ones by its
    201. The stream hook calls this for every completed request that raised nothing.
    """
    if not isinstance(context, dict) or "payload_hash" not in context:
        return None
    if context.get("ack_key"):
        ok = 200 <= status < 300
        key = str(context["ack_key"])
    else:
        ok = status == 201
        key = str(context.get("order_key") or "")
    return (key, str(context["payload_hash"])) if ok and key else None
