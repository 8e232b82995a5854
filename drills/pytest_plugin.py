"""pytest plugin of drills."""
