"""rhodos."""
