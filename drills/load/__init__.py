"""load layer of drills."""
