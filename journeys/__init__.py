"""Journeys: follow-up steps after a visit or a no-show, reactivation, and the consent classes."""
