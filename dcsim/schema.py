"""Shared pydantic base and safe YAML loading with errors that name file and field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dcsim.errors import InputError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config model: unknown fields are errors, values are validated."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False
    )


class Sourced(StrictModel):
    """A number with where it came from and how sure we are of it."""

    value: float
    unit: str = ""
    source: str
    confidence: Literal["high", "medium", "low"] = "high"

    @field_validator("value")
    @classmethod
    def _physical(cls, v: float) -> float:
        """Sourced numbers are physical magnitudes (capacities, rates, powers): finite and >= 0."""
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        if v < 0:
            raise ValueError("must be >= 0 (a physical magnitude cannot be negative)")
        return v


def read_yaml(path: str | Path) -> Any:
    """Load YAML with the safe loader only; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    try:
        with p.open("r", encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"invalid YAML{loc}: {problem}", file=str(p)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(p)) from None


def format_validation_error(exc: ValidationError) -> tuple[str, str]:
    """First error of a pydantic ValidationError as (dotted field path, expectation)."""
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"]) or "<root>"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field (not allowed here; check spelling)"
    elif "input" in err and err["type"] not in ("missing",):
        got = repr(err["input"])
        if len(got) > 60:
            got = got[:57] + "..."
        msg = f"{msg} (got {got})"
    more = len(exc.errors()) - 1
    if more > 0:
        msg += f" [and {more} more error(s)]"
    return path, msg


def validate_model(model: type[M], data: Any, file: str | None = None, prefix: str = "") -> M:
    """Validate data into model; raise InputError naming file and field path."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            f"expected a mapping of fields, got {type(data).__name__}",
            file=file,
            field=prefix or None,
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        path, msg = format_validation_error(exc)
        field = f"{prefix}.{path}" if prefix else path
        raise InputError(msg, file=file, field=field) from None


def load_model(model: type[M], path: str | Path) -> M:
    """Read a YAML file and validate it into model."""
    return validate_model(model, read_yaml(path), file=str(path))
