"""targets layer of drills."""
