"""One typed configuration: limits, tolerance, points and case counts, validated at the edge.

Values come from defaults, then an instructor's `grader.toml` (or `[tool.rnn-grader]` in a
pyproject.toml), then command-line flags. Every key has a default and a description.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


class ConfigError(ValueError):
    """The configuration file or a flag holds a value the grader cannot use."""


def _key(default: Any, description: str, minimum: float | None = None) -> Any:
    return field(default=default, metadata={"description": description, "minimum": minimum})


@dataclass(frozen=True)
class Limits:
    notebook_seconds: float = _key(60.0, "wall time for running all of the notebook's cells", 0.1)
    call_seconds: float = _key(10.0, "wall time for one call of the student's function", 0.1)
    memory_mb: int = _key(1024, "memory the submission may add to the warm worker's", 16)
    output_bytes: int = _key(1_000_000, "largest stdout or stderr a submission may write", 1024)
    kept_output_chars: int = _key(4000, "characters of stdout/stderr kept in the results", 0)
    max_elements: int = _key(1_000_000, "largest returned tensor accepted, in elements", 1)
    disk_mb: int = _key(64, "size of the submission's private /tmp, where it can", 1)


@dataclass(frozen=True)
class Tolerance:
    factor: float = _key(2.0, "multiple of the float32 rounding-error bound accepted", 1.0)
    floor: float = _key(1e-6, "absolute tolerance accepted in any case", 0.0)


@dataclass(frozen=True)
class Scoring:
    points_per_case: float = _key(4.0, "points of one case, split over output and h_n halves", 0.0)
    hidden_cases: int = _key(6, "hidden cases per submission (cycles through the case plans)", 1)


@dataclass(frozen=True)
class Config:
    limits: Limits = field(default_factory=Limits)
    tolerance: Tolerance = field(default_factory=Tolerance)
    scoring: Scoring = field(default_factory=Scoring)

    def override(self, section: str, **values: Any) -> Config:
        """A copy with some keys of one section replaced (None means: keep)."""
        chosen = {key: value for key, value in values.items() if value is not None}
        if not chosen:
            return self
        updated = _build_section(type(getattr(self, section)), section,
                                 {**dataclasses.asdict(getattr(self, section)), **chosen})
        return dataclasses.replace(self, **{section: updated})


def _reject_unknown(given: dict[str, Any], known: dict[str, Any], where: str, what: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{where} has unknown {what}(s) {', '.join(unknown)}; "
                          f"known {what}s: {', '.join(known)}")


def _build_section(cls: type, name: str, table: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    _reject_unknown(table, known, f"[{name}]", "key")
    values = {}
    for key, value in table.items():
        spec = known[key]
        kind = type(spec.default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (kind is int and not isinstance(value, int)):
            raise ConfigError(f"[{name}] {key} must be a{'n integer' if kind is int else ' number'}"
                              f" ({spec.metadata['description']}), not {value!r}")
        minimum = spec.metadata["minimum"]
        if minimum is not None and value < minimum:
            raise ConfigError(f"[{name}] {key} must be at least {minimum}, not {value}")
        values[key] = kind(value)
    return cls(**values)


def load_config(path: Path | None) -> Config:
    """Defaults, updated from a grader.toml or a pyproject.toml's [tool.rnn-grader] table."""
    if path is None:
        return Config()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    if path.name == "pyproject.toml":
        document = document.get("tool", {}).get("rnn-grader", {})
    sections = {f.name: f for f in fields(Config)}
    _reject_unknown(document, sections, str(path), "section")
    built = {}
    for name, spec in sections.items():
        table = document.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        built[name] = _build_section(spec.default_factory, name, table)
    return Config(**built)


def describe_keys() -> str:
    """Every key with its default and description, for the README and --help."""
    lines = []
    for section in fields(Config):
        lines.append(f"[{section.name}]")
        for key in fields(section.default_factory):
            lines.append(f"{key.name} = {key.default!r}  # {key.metadata['description']}")
    return "\n".join(lines)
