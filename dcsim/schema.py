"""Shared pydantic base and safe YAML loading with errors that name file and field."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from dcsim.errors import InputError

M = TypeVar("M", bound=BaseModel)

# NumPy's legacy and SeedSequence-compatible seeds that every consumer here accepts.
MAX_SEED = 2**32 - 1


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


# Limits that keep a hostile YAML from hanging or exhausting memory (issue 14): PyYAML shares
# aliased nodes, so a 1 KB "billion laughs" chain loads fast but explodes in anything that
# walks it (validation, repr in an error message); deep nesting overflows the recursive parser.
MAX_YAML_BYTES = 16 * 1024 * 1024
MAX_YAML_VALUES = 1_000_000  # scalars + collections after expanding every alias
MAX_YAML_DEPTH = 100

# libyaml (PyYAML's C parser) parses ~10x faster than the pure-Python one: the bundled
# hardware catalog and topologies were ~0.2 s of every first gym.make. It reads the files
# shipped with dcsim only, each tested to load identically (tests/test_startup_imports.py):
# on odd text the two differ (libyaml takes tabs and `|#` the Python scanner refuses, reads a
# bare `!` as '' not None), so a user's file keeps the pure-Python loader and its messages.
# A file libyaml refuses is re-read by the Python loader, whose messages name the offending
# token. Only from libyaml 0.2.5 on, which refuses nesting deeper than 1,000 levels: its
# composer recurses in C, where no RecursionError would stop a hostile file.
_LOADER: Any = yaml.SafeLoader
if getattr(yaml, "__with_libyaml__", False):
    from yaml import _yaml as _libyaml

    if _libyaml.get_version() >= (0, 2, 5):
        _LOADER = yaml.CSafeLoader


def _expanded_size_and_depth(root: yaml.Node) -> tuple[int, int]:
    """Values and nesting depth of a composed document with aliases expanded (no recursion)."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in size:
            continue
        if isinstance(node, yaml.ScalarNode):
            size[key], depth[key] = 1, 1
            continue
        kids: list[yaml.Node] = (
            [n for pair in node.value for n in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
        )
        if done:
            size[key] = 1 + sum(size.get(id(k), 0) for k in kids)
            depth[key] = 1 + max((depth.get(id(k), 0) for k in kids), default=0)
            if size[key] > MAX_YAML_VALUES or depth[key] > MAX_YAML_DEPTH:
                return size[key], depth[key]
            continue
        if len(stack) > 10 * MAX_YAML_DEPTH + len(kids) + MAX_YAML_VALUES:
            return MAX_YAML_VALUES + 1, 0
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)
    return size[id(root)], depth[id(root)]


def _check_duplicate_keys(root: yaml.Node) -> None:
    """A key twice in one mapping is an error: YAML loaders keep the last silently, so a
    second `cooling:` block drops the first one's `type: liquid` (issue 14.11). Merge keys
    (`<<`) are YAML's own way to combine mappings and stay allowed."""
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes or isinstance(node, yaml.ScalarNode):
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend((v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(node.value))
            continue
        first: dict[tuple[str, str], int] = {}
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode) or k.tag == "tag:yaml.org,2002:merge":
                continue
            here = f"{path}.{k.value}" if path else str(k.value)
            line = k.start_mark.line + 1
            if (k.tag, k.value) in first:
                raise InputError(
                    f"duplicate key '{k.value}' at line {line} (first at line "
                    f"{first[(k.tag, k.value)]}); YAML would silently keep only the last: "
                    "merge the two",
                    field=here,
                )
            first[(k.tag, k.value)] = line
            stack.append((v, here))


def _load_with(text: str, loader_cls: Any) -> Any:
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        n, d = _expanded_size_and_depth(node)
        if n > MAX_YAML_VALUES:
            raise InputError(
                f"YAML expands to more than {MAX_YAML_VALUES:,} values "
                "(an alias chain?); expected a plain configuration file"
            )
        if d > MAX_YAML_DEPTH:
            raise InputError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels")
        _check_duplicate_keys(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _load_limited(text: str, loader_cls: Any = None) -> Any:
    """Load with libyaml when it is there; what it refuses, the Python loader re-reads."""
    cls = loader_cls or _LOADER
    if cls is yaml.SafeLoader:
        return _load_with(text, cls)
    try:
        return _load_with(text, cls)
    except yaml.YAMLError:
        return _load_with(text, yaml.SafeLoader)


@cache
def _shipped_roots() -> tuple[Path, ...]:
    from dcsim.resources import bundled_dir

    roots = (Path(__file__).parent / "data", bundled_dir("scenarios"), bundled_dir("topologies"))
    return tuple(r.resolve() for r in roots)


def _shipped(p: Path) -> bool:
    """A file shipped with dcsim (hardware catalog, presets, scenarios, tasks)."""
    rp = p.resolve()
    return any(rp.is_relative_to(r) for r in _shipped_roots())


def read_yaml(path: str | Path) -> Any:
    """Load YAML with the safe loader only, within size/alias/depth limits; errors name the file."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    try:
        if p.stat().st_size > MAX_YAML_BYTES:
            raise InputError(f"file larger than {MAX_YAML_BYTES // 2**20} MiB", file=str(p))
        text = p.read_bytes().decode("utf-8")
        return _load_limited(text, None if _shipped(p) else yaml.SafeLoader)
    except InputError as exc:
        if exc.file is None:
            exc.file = str(p)
            exc.args = (exc.render(),)
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"invalid YAML{loc}: {problem}", file=str(p)) from None
    except UnicodeDecodeError:
        raise InputError("not a UTF-8 text file", file=str(p)) from None
    except RecursionError:
        raise InputError(f"YAML nested deeper than {MAX_YAML_DEPTH} levels", file=str(p)) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", file=str(p)) from None


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
