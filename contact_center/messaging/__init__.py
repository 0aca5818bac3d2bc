"""SMS: conversations per practice and patient number, the one send function, templates."""
