"""Grade many submissions: find and name them, keep what would grade the same, run the rest in
parallel, and show progress and a summary."""
