"""adapters layer of drills."""
