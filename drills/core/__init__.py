"""Pure domain of drills: standard library only (tenacity inside waiting.py)."""
