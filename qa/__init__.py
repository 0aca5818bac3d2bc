"""qa feature package."""
