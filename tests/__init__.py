"""EdgeCall test suite."""
