"""Every byte the app posts: markdown helpers (untrusted text made inert), messages and the run's
state line, the plan comment, the pull request body and its tables, commit messages. Pure."""
