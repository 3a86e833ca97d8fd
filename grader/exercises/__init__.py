"""Exercises the grader knows. Each one is a module exposing an `Exercise` value.

Everything specific to an exercise — the names students bind, the sizes of the cases,
the reference computation, the shapes worth explaining, the catalogued mistakes — lives
in that one module; the pipeline stages only ever talk to the `Exercise` interface.

Exercises are found through the entry-point group `rnn_grader.exercises`: each entry is
`name = "module:ATTRIBUTE"`, the attribute an `Exercise` whose `name` is the entry's name.
The package declares its four built-in ones in pyproject.toml; a course package declares its
own the same way (README, "Write your own exercise"). From a source tree that was never
installed, the built-in ones are still found.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from importlib.metadata import Distribution, entry_points

from grader.exercises.base import Exercise
from grader.exercises.bidirectional_rnn import EXERCISE

GROUP = "rnn_grader.exercises"
BUILT_IN = {  # name -> "module:attribute", as pyproject.toml declares them
    "bidirectional_rnn": "grader.exercises.bidirectional_rnn:EXERCISE",
    "stacked_birnn": "grader.exercises.stacked_birnn:EXERCISE",
    "lstm": "grader.exercises.lstm:EXERCISE",
    "gru": "grader.exercises.gru:EXERCISE",
}


class ExerciseError(Exception):
    """An exercise cannot be found or loaded; the message says which and why."""


def _load(name: str, target: str) -> Exercise:
    module_name, _, attribute = target.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attribute or "EXERCISE")
    except (ImportError, AttributeError) as error:
        raise ExerciseError(f"exercise {name!r} ({target}) cannot be loaded: {error}") from None
    if not isinstance(value, Exercise):
        raise ExerciseError(f"exercise {name!r} ({target}) is not a grader Exercise")
    if value.name != name:
        raise ExerciseError(f"exercise {name!r} ({target}) calls itself {value.name!r}; the "
                            "entry point's name must be the exercise's name")
    return value


@functools.cache
def _targets() -> dict[str, str]:
    """name -> "module:attribute" of every installed exercise, built-in ones first."""
    targets = {name: target for name, target in BUILT_IN.items()
               if importlib.util.find_spec(target.partition(":")[0]) is not None}
    for entry in sorted(entry_points(group=GROUP), key=lambda entry: entry.name):
        if entry.name in BUILT_IN and entry.name not in targets:
            continue  # declared by pyproject.toml, not in this source tree (yet)
        targets.setdefault(entry.name, entry.value)
    return targets


def names() -> list[str]:
    """Every installed exercise's name, built-in ones first."""
    return list(_targets())


@functools.cache
def get(name: str) -> Exercise:
    """The installed exercise called `name` (ExerciseError when there is none)."""
    target = _targets().get(name)
    if target is None:
        raise ExerciseError(f"unknown exercise {name!r}; installed: {', '.join(names())} "
                            "(`rnn-grader exercises` lists them)")
    return _load(name, target)


def target(name: str) -> str:
    """Where an installed exercise comes from: "module:attribute"."""
    return _targets()[name]


def provider(name: str) -> Distribution | None:
    """The installed distribution whose entry point provides exercise `name`; None for one of
    the built-in exercises (rnn-grader's own) or an unknown name."""
    value = _targets().get(name)
    if value is None or BUILT_IN.get(name) == value:
        return None
    for entry in entry_points(group=GROUP):
        if entry.name == name and entry.value == value:
            return getattr(entry, "dist", None)
    return None


def installed() -> dict[str, Exercise]:
    """Every installed exercise that loads, by name (one that does not is left out)."""
    found = {}
    for name in names():
        try:
            found[name] = get(name)
        except ExerciseError:
            continue
    return found


__all__ = ["BUILT_IN", "EXERCISE", "GROUP", "ExerciseError", "get", "installed",
           "names", "provider", "target"]
