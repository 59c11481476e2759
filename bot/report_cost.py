"""The cost table of a run: tokens and estimated dollars per agent and for the orchestrator."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.plan import ORCHESTRATOR, role_rank
from bot.core.pricing import PRICES_ENV, PriceTable
from bot.core.results import AgentResult, AgentStatus
from bot.core.usage import Usage
from bot.report_md import code_span, dollars, inline, table


def cost_rows(
    agents: Sequence[AgentResult], orchestrator: Usage, orchestrator_model: str
) -> list[tuple[str, str, int, Usage]]:
    """(label, model, turns, usage) per agent role and model, then the orchestrator."""
    grouped: dict[tuple[str, str], tuple[int, int, Usage]] = {}
    for result in agents:
        runs, turns, usage = grouped.get((result.role, result.model), (0, 0, Usage()))
        grouped[(result.role, result.model)] = (
            runs + 1,
            turns + result.turns,
            usage + result.usage,
        )
    rows = []
    for (role, model), (runs, turns, usage) in sorted(
        grouped.items(), key=lambda item: role_rank(item[0][0])
    ):
        name = inline(role, 40)
        label = name if runs == 1 else f"{name} ({runs} runs)"
        rows.append((label, model, turns, usage))
    rows.append((ORCHESTRATOR, orchestrator_model, 0, orchestrator))
    return rows


def run_cost(
    agents: Sequence[AgentResult],
    orchestrator: Usage | AgentResult,
    orchestrator_model: str = "",
    prices: PriceTable | None = None,
) -> float | None:
    """Estimated dollars of the whole run; None when a model that was used has no price."""
    usage, model = _orchestrator(orchestrator, orchestrator_model)
    prices = prices or PriceTable.default()
    total = 0.0
    for _, row_model, _, row_usage in cost_rows(agents, usage, model):
        cost = prices.cost(row_model, row_usage)
        if cost is None and row_usage.total:
            return None
        total += cost or 0.0
    return total


def _orchestrator(orchestrator: Usage | AgentResult, model: str) -> tuple[Usage, str]:
    if isinstance(orchestrator, AgentResult):
        return orchestrator.usage, orchestrator.model
    return orchestrator, model


def render_cost(
    agents: Sequence[AgentResult],
    orchestrator: Usage | AgentResult,
    orchestrator_model: str,
    prices: PriceTable,
) -> str:
    usage, model = _orchestrator(orchestrator, orchestrator_model)
    rows: list[list[str]] = []
    total_usage, total_cost, models = Usage(), 0.0, []
    priced = True  # the total is n/a as soon as one used model has no price
    for label, row_model, turns, row_usage in cost_rows(agents, usage, model):
        cost = prices.cost(row_model, row_usage)
        priced = priced and (cost is not None or not row_usage.total)
        total_cost += cost or 0.0
        total_usage = total_usage + row_usage
        models.append(row_model)
        rows.append(
            [
                label,
                code_span(row_model or "unknown", 80),
                str(turns) if turns else "–",
                *_token_cells(row_usage),
                dollars(cost),
            ]
        )
    total = dollars(total_cost if priced else None)
    rows.append(["**Total**", "", ""] + [f"**{c}**" for c in _token_cells(total_usage)])
    rows[-1].append(f"**{total}**")
    header = ["Agent", "Model", "Turns", "Input", "Output", "Cache read", "Cache write", "Est. $"]
    parts = ["## Cost", table(header, rows), _price_note(models, prices)]
    stopped = [a for a in agents if a.status is not AgentStatus.DONE]
    if stopped:
        parts.append(
            "\n".join(
                f"- **{inline(a.role, 40)}** (round {a.round}): {a.status.value}"
                + (f" ({inline(a.stop_reason, 300)})" if a.stop_reason else "")
                for a in stopped
            )
        )
    return "\n\n".join(parts)


def _token_cells(usage: Usage) -> list[str]:
    counts = (
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )
    return [f"{count:,}" for count in counts]


def _price_note(models: list[str], prices: PriceTable) -> str:
    used = []
    for model in dict.fromkeys(models):
        price = prices.price(model)
        if price is not None:
            name = code_span(model, 80, cell=False)
            used.append(
                f"{name} ${price.input:.2f} in / ${price.output:.2f} out / "
                f"${price.cache_write:.2f} cache write / ${price.cache_read:.2f} cache read"
            )
    note = (
        "Estimated with the price table in `bot/pricing.py` (USD per million tokens, cache "
        f"writes at the 5-minute rate); override it with the `{PRICES_ENV}` environment "
        "variable. n/a: no price is known for that model."
    )
    return f"<sub>{note}" + (" Prices used: " + "; ".join(used) + "." if used else "") + "</sub>"
