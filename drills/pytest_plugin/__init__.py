"""pytest plugin of drills (pytest11 entry point `drills.pytest_plugin`).

Options and ini keys (`options`), the `drill` marker (`markers`), the session's composition root
(`context`), event forwarding to the `pytest_drills_*` hooks (`bridge`), the call-phase verdict
(`session`, `outcomes`) and the fixtures (`fixtures`). pytest collects the hook functions and
fixtures re-exported here.
"""

from drills.pytest_plugin.context import DrillContext, DrillTerminated
from drills.pytest_plugin.fixtures import (
    drill,
    drill_clock,
    drill_context,
    drill_endpoints,
    drill_objectives,
    drill_profile,
    drill_service,
    drill_variant,
)
from drills.pytest_plugin.options import DrillSettings
from drills.pytest_plugin.session import (
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
    pytest_unconfigure,
)

__all__ = [
    "DrillContext",
    "DrillSettings",
    "DrillTerminated",
    "drill",
    "drill_clock",
    "drill_context",
    "drill_endpoints",
    "drill_objectives",
    "drill_profile",
    "drill_service",
    "drill_variant",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_call",
    "pytest_runtest_makereport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]
