"""recovery layer of drills."""
