"""ivr feature package."""
