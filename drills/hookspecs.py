"""pytest hook specifications of drills (filled in by the plugin)."""
