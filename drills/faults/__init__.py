"""faults layer of drills."""
