"""Tell the results: one story per submission, rendered to the terminal, feedback.html and
Gradescope's results.json, plus the batch's summary.csv and class report."""
