"""Notebooks: load a submission safely, read its code without running it, show its cells as
Jupyter does, and make the student notebook from the instructor's solution."""
