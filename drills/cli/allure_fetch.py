"""`python -m drills.cli.allure_fetch`: put the Allure 2 command line in the cache (make allure).

Nothing is fetched when DRILLS_ALLURE or PATH already provides an `allure` (unless --force);
see `drills.cli.allure_tool` for where it goes and how it is checked.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

from rich.console import Console

from drills.cli.allure_tool import (
    ALLURE_VERSION,
    allure_cache_dir,
    fetch_allure,
    find_allure,
    find_java,
)
from drills.core.errors import ConfigError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Fetch (or find) the Allure command line; 0 when there is one, else 1 (0 if best effort)."""
    parser = argparse.ArgumentParser(
        prog="python -m drills.cli.allure_fetch", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--version", default=ALLURE_VERSION, help="Allure 2 version to fetch")
    parser.add_argument(
        "--force", action="store_true", help="fetch even when cached or DRILLS_ALLURE/PATH has one"
    )
    parser.add_argument(
        "--best-effort", action="store_true", help="exit 0 with a warning when the fetch fails"
    )
    args = parser.parse_args(argv)
    out, err = Console(highlight=False), Console(stderr=True, highlight=False)
    if find_java() is None:
        out.print("note: Allure needs Java 8 or later; no java on PATH and JAVA_HOME is not set")
    with contextlib.suppress(ConfigError):
        found = find_allure()
        if found is not None and found.source != "cache" and not args.force:
            out.print(f"Allure: {found.path} (from {found.source}); nothing fetched", markup=False)
            return 0
    target = allure_cache_dir(args.version)
    cached = (target / "bin" / "allure").is_file() and not args.force
    if not cached:
        out.print(f"fetching Allure {args.version} from Maven Central into {target} (~25 MB)")
    try:
        executable = fetch_allure(args.version, force=args.force)
    except ConfigError as exc:
        err.print(f"{'warning' if args.best_effort else 'error'}: {exc}", markup=False)
        if args.best_effort:
            err.print("`drills report --allure` will say how to get Allure; its test skips")
            return 0
        return 1
    verified = "" if cached else " (sha256 verified)"
    out.print(f"Allure {args.version}: {executable}{verified}", markup=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
