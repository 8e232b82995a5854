"""The `drills` command line."""


def main() -> int:
    """Entry point placeholder."""
    return 0
