"""Root conftest: thin by design; it only loads the fixture modules in fixtures/."""
