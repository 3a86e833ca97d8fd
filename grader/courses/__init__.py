"""The tools courses already use: an nbgrader course's gradebook and Gradescope's autograder
archive."""
