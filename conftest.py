"""Root conftest: thin by design; it only loads plugins and the fixture modules in fixtures/."""

pytest_plugins = [
    "pytester",
    "fixtures.kube",
    "fixtures.load",
    "fixtures.data",
    "fixtures.canary",
    "fixtures.pool",
    "fixtures.oom",
    "fixtures.recovery",
    "fixtures.replica",
    "fixtures.region",
    "fixtures.rotation",
    "fixtures.db_connection",
    "fixtures.autoscaling",
    "fixtures.latency",
    "fixtures.error_rate",
    "fixtures.nodes",
    "fixtures.ddos",
    "fixtures.proctor",
    "fixtures.backups",
    "fixtures.disk",
]
