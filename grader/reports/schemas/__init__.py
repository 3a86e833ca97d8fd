"""JSON schemas shipped with the grader."""
