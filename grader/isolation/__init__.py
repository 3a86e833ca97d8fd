"""Run a submission in isolation: the warm worker, one confined child per submission (kernel
walls applied from outside the student's code), the wire between them, and what isolation each
child got, measured by the trusted side."""
