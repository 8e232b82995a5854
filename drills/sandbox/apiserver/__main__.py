"""Run the sandbox API server alone: ``python -m drills.sandbox.apiserver --port 0 --ready-file X``.

The ready file receives the server URL once it listens; SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from drills.sandbox.apiserver.server import ApiConfig, SandboxApi


async def _serve(port: int, ready_file: Path | None, kubeconfig: Path | None) -> None:
    api = SandboxApi(ApiConfig(port=port, node_grace_s=None))
    await api.start()
    if kubeconfig:
        api.write_kubeconfig(kubeconfig)
    if ready_file:
        ready_file.write_text(api.url + "\n", encoding="utf-8")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await api.stop()


def main() -> None:
    """Parse arguments and serve until signalled."""
    parser = argparse.ArgumentParser(prog="python -m drills.sandbox.apiserver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--kubeconfig", type=Path)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.ready_file, args.kubeconfig))


if __name__ == "__main__":
    main()
