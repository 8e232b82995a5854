"""probes layer of drills."""
