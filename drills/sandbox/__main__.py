"""``python -m drills.sandbox --root <repo-root>``: run the sandbox daemon in the foreground."""

from drills.sandbox.daemon import main

raise SystemExit(main())
