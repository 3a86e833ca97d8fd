"""Exercises the grader knows. Each one is a module exposing an `Exercise` value.

Everything specific to an exercise — the names students bind, the sizes of the cases,
the reference computation, the shapes worth explaining, the catalogued mistakes — lives
in that one module; the pipeline stages only ever talk to the `Exercise` interface.
"""

from grader.exercises.bidirectional_rnn import EXERCISE

EXERCISES = {EXERCISE.name: EXERCISE}

__all__ = ["EXERCISE", "EXERCISES"]
