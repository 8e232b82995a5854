"""Pure parts of the sandbox control: the state lines `drills sandbox status` prints.

The process kubelet's pure parts (image table, probes, QoS, back-off, environment) are tested in
test_node_podenv.py, beside the node agent they belong to.
"""

from __future__ import annotations

from drills.sandbox.control import SandboxState


def test_state_lines_show_endpoints_pods_and_leftovers() -> None:
    running = SandboxState(
        running=True,
        pid=42,
        endpoints={"service_url": "http://127.0.0.1:1"},
        pods=[
            {
                "name": "shop-a",
                "phase": "Running",
                "ready": True,
                "restarts": 0,
                "ip": "127.0.1.1",
                "node": "sandbox-node-1",
            }
        ],
    )
    assert str(running).splitlines() == [
        "sandbox: running (daemon pid 42)",
        "  service_url: http://127.0.0.1:1",
        "  pod shop-a: Running ready=True restarts=0 ip=127.0.1.1 node=sandbox-node-1",
    ]
    assert (
        str(SandboxState(running=False, leftovers=[7]))
        == "sandbox: not running; processes LEFT: [7]"
    )
    assert (
        str(SandboxState(running=False, pid=42))
        == "sandbox: not running (stopped daemon pid 42); no sandbox process left"
    )
    assert str(SandboxState(running=False)) == "sandbox: not running; no sandbox process left"
