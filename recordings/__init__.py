"""recordings feature package."""
