"""Appointments: services, providers, free slots, booking, the practice's CalDAV calendar."""
