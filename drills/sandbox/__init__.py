"""sandbox layer of drills."""
