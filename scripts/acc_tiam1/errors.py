"""One exception type for every mistake in a user's input."""

from __future__ import annotations


class InputError(ValueError):
    """A problem with a file or setting the user gave.

    Parameters
    ----------
    message
        What is wrong and what to do about it.
    path
        The file (or config key) the problem is in, if there is one.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        """The message, prefixed with the file it is about."""
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message
