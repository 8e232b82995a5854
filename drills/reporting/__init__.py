"""reporting layer of drills."""
