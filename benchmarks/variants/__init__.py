"""Student versions of each exercise's function, as source strings, for make_submissions.py.

One module per exercise (named like the exercise), each with the same tables:

    FUNCTION         the function students complete (the grade id of its notebook cell)
    CORRECT          name -> source of a correct version, written in different styles
    CORRECT_WEIGHTS  name -> how often that style is drawn, relative to the others
    BUGGY            name -> (base, [(old, new), ...]): a correct version with edits, giving one
                     of the mistakes the exercise's module (grader/exercises/) catalogues; each
                     shows in at least one hidden case and on the notebook's own sizes
    RAISING          the same, raising an exception in every case

`EXERCISES` lists them in the order grader/exercises/ declares its built-in ones.
"""

from __future__ import annotations

from types import ModuleType

from . import bidirectional_rnn, gru, lstm, stacked_birnn

EXERCISES: dict[str, ModuleType] = {
    "bidirectional_rnn": bidirectional_rnn,
    "stacked_birnn": stacked_birnn,
    "lstm": lstm,
    "gru": gru,
}
KINDS = ("correct", "buggy", "raising")


def edited(source: str, edits: list[tuple[str, str]]) -> str:
    """`source` with each (old, new) applied; an edit that does not apply is an error."""
    for old, new in edits:
        if old not in source:
            raise ValueError(f"edit {old!r} does not apply")
        source = source.replace(old, new)
    return source


def variant_source(kind: str, variant: str, exercise: str = "bidirectional_rnn") -> str:
    """The function cell of one variant of one exercise."""
    tables = EXERCISES[exercise]
    if kind == "correct":
        return tables.CORRECT[variant]
    base, edits = (tables.BUGGY if kind == "buggy" else tables.RAISING)[variant]
    try:
        return edited(tables.CORRECT[base], edits)
    except ValueError as error:
        raise ValueError(f"{exercise} {kind} {variant!r} (on {base!r}): {error}") from None


def names(kind: str, exercise: str) -> list[str]:
    """The variants of one kind, in the order they are drawn from."""
    tables = EXERCISES[exercise]
    return list(tables.CORRECT_WEIGHTS) if kind == "correct" else \
        sorted(tables.BUGGY if kind == "buggy" else tables.RAISING)
