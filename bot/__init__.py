"""orchestrate: a GitHub App that plans a task, runs implement/test/docs agents in parallel and
opens one attributed pull request.

The packages, in flow order; each imports only the ones after it (and `errors`), which CI
checks (pyproject.toml, `lint-imports`):

    app/         processes: cli, settings, the embedded Temporal dev server, `bot run`, wiring
    webhooks/    HTTP in: the starlette app; verify, parse, route (no I/O); the workflow starter
    workflows/   deterministic Temporal code: command and run workflows (phases over a pure run
                 state), the status comment, activity policies; client.py, their typed client
    activities/  thin adapters with one error boundary: github, repo, model, agent, tests
    agents/      the tool loop over Protocols, the runner, model client, planner, prompts, tools/
    git/         the git CLI only: one runner, mirror cache, worktrees, refs, history, parsers
    github/      GitHub only: app auth and tokens, REST calls, models, the forge
    sandbox/     bubblewrap; environments: setup through the egress proxy, the cache
    render/      every byte the app posts: markdown, messages, plan comment, PR body, tables
    core/        pure data and rules: commands, plan, memory, config, pricing, attribution
    errors.py    the exception tree (imports nothing of bot)
"""

__version__ = "0.1.0"
