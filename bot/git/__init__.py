"""The git CLI only: the one runner and its fixed environment, the mirror cache, worktrees,
refs (branch, push), history commands and the parsers of their output."""
