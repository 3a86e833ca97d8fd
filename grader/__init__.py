"""rnn-grader: grade hand-written bidirectional RNNs in notebooks, safely and with feedback.

The pipeline, one module per stage:
    notebook   load and check a submitted notebook
    sandbox    run it in an isolated child process (child.py is the child's side)
    cases      make each case's inputs (public, or hidden from the instructor's secret)
    reference  compute nn.RNN's answer and the rounding tolerance in the grading process
    compare    compare what came back with the reference
    diagnose   explain shapes, recognise catalogued mistakes, locate divergence
    report     results.json (Gradescope), summaries, terminal and HTML reports
pipeline.py runs the stages in order for one submission; batch.py runs many.
"""

__version__ = "0.1.0"
