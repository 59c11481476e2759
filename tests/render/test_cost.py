"""The cost table: rows per agent and model, totals, prices and what has none."""

from __future__ import annotations

import pytest

from bot.core.pricing import run_cost
from bot.core.results import AgentStatus
from bot.core.usage import Usage
from tests.render.helpers import (
    PING,
    SONNET,
    body,
    result,
)


def test_cost_table_rows_totals_and_footnote() -> None:
    """Per-agent rows, orchestrator, total in dollars against hand-computed numbers."""
    agents = [
        result("implement", input_tokens=100_000, output_tokens=10_000),  # 0.30 + 0.15
        result("test", model="claude-haiku-4-5-20251001", output_tokens=100_000),  # 0.50
        result("implement", input_tokens=100_000, cache_read_tokens=1_000_000),  # 0.30 + 0.30
    ]
    agents[2].round = 2
    text = body(
        agents=agents,
        orchestrator=Usage(output_tokens=20_000),
        orchestrator_model="claude-opus-4-6",
    )
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["| implement (2 runs)"].endswith("| 8 | 200,000 | 10,000 | 1,000,000 | 0 | $1.05 |")
    assert rows["| test"].endswith("| 0 | 100,000 | 0 | 0 | $0.50 |")
    assert rows["| orchestrator"].endswith("| 0 | 20,000 | 0 | 0 | $0.50 |")
    assert rows["| **Total**"].endswith(
        "| **200,000** | **130,000** | **1,000,000** | **0** | **$2.05** |"
    )
    assert "`bot/core/pricing.py`" in text and "`ORCHESTRATE_PRICES`" in text
    assert run_cost(agents, Usage(output_tokens=20_000), "claude-opus-4-6") == pytest.approx(2.05)


def test_unknown_model_costs_na_and_so_does_the_total() -> None:
    """A model without a price shows n/a in its row and the total, never a guessed number."""
    agents = [
        result("implement", input_tokens=1000),
        result("docs", model="gpt-x", output_tokens=5),
    ]
    text = body(agents=agents)
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["| docs"].endswith("| n/a |")
    assert rows["| **Total**"].endswith("| **n/a** |")
    assert run_cost(agents, Usage(), SONNET) is None
    unused = [result("implement", input_tokens=1000), result("docs", model="gpt-x")]
    assert run_cost(unused, Usage(), SONNET) == pytest.approx(0.003)


def test_agents_that_did_not_finish_are_listed_with_their_reason() -> None:
    """A stopped or failed agent is named under the cost table with its stop reason."""
    stopped = result("test")
    stopped.status, stopped.stop_reason = AgentStatus.BUDGET, "budget: turns @octocat"
    text = body(agents=[result("implement"), stopped])
    line = next(line for line in text.splitlines() if line.startswith("- **test**"))
    assert line.startswith("- **test** (round 1): stopped at budget (budget: turns @")
    assert not PING.search(line)
