"""The one root of domain errors; views and commands map them to responses."""


class DomainError(Exception):
    """A business rule refused the operation. The message is safe to show to the user."""


class NotFound(DomainError):
    """The thing asked for does not exist (or belongs to another practice)."""


class InvalidInput(DomainError):
    """Input could not be understood; the message says which field and why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Forbidden(DomainError):
    """The actor may not do this (another practice's data, wrong role)."""
