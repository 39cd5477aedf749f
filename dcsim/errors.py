"""User-facing input errors: the CLI turns these into a message and exit code 2."""

from __future__ import annotations

from typing import Literal


class InputError(Exception):
    """Bad user input: names the file, the field path and what was expected."""

    def __init__(self, message: str, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        self.message = message
        super().__init__(self.render())

    def render(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.field:
            where.append(f"field '{self.field}'")
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class input_context:  # noqa: N801 - used as a context manager
    """Fill in the file and prefix the field path of InputErrors raised by a builder.

    Builders (topology, climate, cooling) know their own field names but not
    which scenario file or section they were called for.
    """

    def __init__(self, file: str | None, prefix: str):
        self.file = file
        self.prefix = prefix

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if isinstance(exc, InputError):
            if exc.file is None:
                exc.file = self.file
            if self.prefix and not (exc.field or "").startswith(self.prefix):
                exc.field = f"{self.prefix}.{exc.field}" if exc.field else self.prefix
            exc.args = (exc.render(),)
        return False
