"""The API a team's locustfile uses to declare the writes its users saw acknowledged.

A request whose context is `ack_context(key, payload_hash)` and whose answer is any 2xx becomes
an acknowledged write in the drill's write ledger; a read-back with `read_context(key)` answered
404 is a lost-write signal. After recovery the ledger is compared with what the service's
database holds, read through the profile's `[services.<name>.ledger]` (table, key column, hash
column), so the hash must be the one the service stores for that key::

    from drills.load.acknowledge import ack_context, read_context

    self.client.put(f"/notes/{key}", json=body, context=ack_context(key, digest))
    self.client.get(f"/notes/{key}", context=read_context(key))

The rules live in `drills.core.acks`, where the stream hook inside Locust reads them too.
"""

from __future__ import annotations

from drills.core.acks import ack_context, acknowledged_write, read_context

__all__ = ["ack_context", "acknowledged_write", "read_context"]
