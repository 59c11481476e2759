"""The cost table of a run: tokens and estimated dollars per agent and for the orchestrator."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.pricing import PRICES_ENV, PriceTable, UsageRow, usage_rows
from bot.core.results import AgentResult, AgentStatus
from bot.core.usage import Usage
from bot.render.markdown import code_span, dollars, inline, table

_HEADER = ["Agent", "Model", "Turns", "Input", "Output", "Cache read", "Cache write", "Est. $"]


def render_cost(
    agents: Sequence[AgentResult],
    orchestrator: Usage,
    orchestrator_model: str,
    prices: PriceTable,
) -> str:
    rows: list[list[str]] = []
    total_usage, total_cost, models = Usage(), 0.0, []
    priced = True  # the total is n/a as soon as one used model has no price
    for row in usage_rows(agents, orchestrator, orchestrator_model):
        cost = prices.cost(row.model, row.usage)
        priced = priced and (cost is not None or not row.usage.total)
        total_cost += cost or 0.0
        total_usage = total_usage + row.usage
        models.append(row.model)
        rows.append(_row(row, cost))
    total = dollars(total_cost if priced else None)
    rows.append(["**Total**", "", ""] + [f"**{c}**" for c in _token_cells(total_usage)])
    rows[-1].append(f"**{total}**")
    parts = ["## Cost", table(_HEADER, rows), _price_note(models, prices)]
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


def _row(row: UsageRow, cost: float | None) -> list[str]:
    name = inline(row.role, 40)
    return [
        name if row.runs == 1 else f"{name} ({row.runs} runs)",
        code_span(row.model or "unknown", 80),
        str(row.turns) if row.turns else "–",
        *_token_cells(row.usage),
        dollars(cost),
    ]


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
        "Estimated with the price table in `bot/core/pricing.py` (USD per million tokens, cache "
        f"writes at the 5-minute rate); override it with the `{PRICES_ENV}` environment "
        "variable. n/a: no price is known for that model."
    )
    return f"<sub>{note}" + (" Prices used: " + "; ".join(used) + "." if used else "") + "</sub>"
