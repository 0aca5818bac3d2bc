"""routing feature package."""
