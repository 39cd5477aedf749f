"""User-facing input errors: the CLI turns these into a message and exit code 2."""

from __future__ import annotations


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
