"""Check a submission's answers: make each case's inputs, compute the reference in the grading
process, compare, and diagnose what went wrong and which mistake explains it."""
