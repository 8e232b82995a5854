"""The sandbox's moto server with its RDS records backed by local PostgreSQL (entry point).

`python -m drills.moto_rds -H HOST -p PORT` is `moto_server` with
drills.targets.adapters.rds_backing installed first: restores become real local instances
under the sandbox's PostgreSQL root (`DRILLS_RDS_BACKING_ROOT`), named like the RDS instance,
and stay `creating` for a modelled time. Without the variable it is plain `moto_server`.

It sits outside the layers because it joins the sandbox (which owns the local servers) and
the adapters (which own moto and the PostgreSQL tools); the sandbox daemon starts it by name.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from drills.sandbox.aws import BACKING_ROOT_ENV

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Install the backing when the sandbox names its PostgreSQL root, then serve as moto."""
    root = os.environ.get(BACKING_ROOT_ENV, "")
    if root:
        from drills.sandbox.postgres import LocalPostgres, LocalPostgresFactory
        from drills.targets.adapters.rds_backing import LocalRdsBacking, install

        primary = LocalPostgres(Path(root), max_connections=60)
        factory = LocalPostgresFactory(Path(root), max_connections=60)
        install(LocalRdsBacking(primary, factory=factory, work_dir=Path(root) / "rds-backing"))
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
