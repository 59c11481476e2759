"""Model prices, in US dollars per million tokens, for the cost table of a run.

The built-in table (Anthropic's public list prices; checked against anthropic.com/pricing):

| model             | input | output | cache write (5 min) | cache read |
|-------------------|------:|-------:|--------------------:|-----------:|
| claude-opus-4-6   |  5.00 |  25.00 |                6.25 |       0.50 |
| claude-opus-4-5   |  5.00 |  25.00 |                6.25 |       0.50 |
| claude-sonnet-4-6 |  3.00 |  15.00 |                3.75 |       0.30 |
| claude-sonnet-4-5 |  3.00 |  15.00 |                3.75 |       0.30 |
| claude-haiku-4-5  |  1.00 |   5.00 |                1.25 |       0.10 |

Cache writes are priced at the 5-minute TTL rate (1.25 × input, the API's default TTL, which the
agents use); cache reads at 0.1 × input.

A model id matches the longest known name it starts with, followed by the end of the id or a
suffix such as a date: `claude-sonnet-4-5-20250929` and `claude-sonnet-4-5@20250929` are priced
as `claude-sonnet-4-5`. A suffix that looks like another version number (`claude-opus-4-7`) does
not match `claude-opus-4`: an unknown model has no price, and its cost shows as "n/a" rather than
a wrong number.

Overrides: set `ORCHESTRATE_PRICES` to a JSON object of model → prices, e.g.
`{"claude-sonnet-4-6": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3}}`.
`cache_write` and `cache_read` may be left out; they then follow the input price (1.25 × and
0.1 ×). An override replaces the built-in entry of the same name or adds a new model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.core.plan import ORCHESTRATOR, role_rank
from bot.core.results import AgentResult
from bot.core.usage import Usage
from bot.core.validation import brief
from bot.errors import ConfigError

PRICES_ENV = "ORCHESTRATE_PRICES"
PER_TOKENS = 1_000_000
CACHE_WRITE_FACTOR = 1.25  # 5-minute TTL
CACHE_READ_FACTOR = 0.1

# A suffix that continues the version number ("-7", "-10") names another model, not a date.
_VERSION_SUFFIX = re.compile(r"^[-.]\d{1,2}(?!\d)")
_SEPARATORS = ("-", "@", ":", "_", ".")


class Price(BaseModel):
    """US dollars per million tokens of each kind."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cache_write: float = Field(ge=0, description="default: 1.25 × input")
    cache_read: float = Field(ge=0, description="default: 0.1 × input")

    @model_validator(mode="before")
    @classmethod
    def _cache_defaults(cls, data: Any) -> Any:
        """Cache prices left out follow the input price."""
        if isinstance(data, Mapping) and "input" in data:
            given = data["input"]
            if isinstance(given, int | float) and not isinstance(given, bool):
                data = {
                    "cache_write": round(given * CACHE_WRITE_FACTOR, 6),
                    "cache_read": round(given * CACHE_READ_FACTOR, 6),
                    **data,
                }
        return data

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / PER_TOKENS


_DEFAULT_PRICES: dict[str, Price] = {
    "claude-opus-4-6": Price(input=5.0, output=25.0, cache_write=6.25, cache_read=0.5),
    "claude-opus-4-5": Price(input=5.0, output=25.0, cache_write=6.25, cache_read=0.5),
    "claude-sonnet-4-6": Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3),
    "claude-sonnet-4-5": Price(input=3.0, output=15.0, cache_write=3.75, cache_read=0.3),
    "claude-haiku-4-5": Price(input=1.0, output=5.0, cache_write=1.25, cache_read=0.1),
}


def _matches(model: str, name: str) -> bool:
    if not model.startswith(name):
        return False
    rest = model[len(name) :]
    return rest == "" or (rest[0] in _SEPARATORS and not _VERSION_SUFFIX.match(rest))


class PriceTable(BaseModel):
    prices: dict[str, Price]

    @classmethod
    def default(cls) -> PriceTable:
        return cls(prices={name: price.model_copy() for name, price in _DEFAULT_PRICES.items()})

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> PriceTable:
        """The default table with the overrides of `ORCHESTRATE_PRICES` in `environ`, if set."""
        table = cls.default()
        raw = environ.get(PRICES_ENV, "").strip()
        return table.with_overrides(raw) if raw else table

    def with_overrides(self, overrides: str | Mapping[str, Any]) -> PriceTable:
        """A copy with `overrides` (a JSON object as text, or a mapping from a repo config)
        applied: model → {input, output[, cache_write, cache_read]}."""
        data: Any = overrides
        if isinstance(overrides, str):
            try:
                data = json.loads(overrides)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{PRICES_ENV} is not valid JSON: {exc.msg}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"{PRICES_ENV} must be a JSON object of model → prices")
        prices = dict(self.prices)
        for model, value in data.items():
            name = str(model).strip().lower()
            if not name:
                raise ConfigError(f"{PRICES_ENV}: a model name is empty")
            try:
                prices[name] = value if isinstance(value, Price) else Price.model_validate(value)
            except ValidationError as exc:
                problems = brief(exc, root="value")
                raise ConfigError(
                    f"{PRICES_ENV}: prices of {name!r} are invalid: {problems}"
                ) from exc
        return PriceTable(prices=prices)

    def price(self, model: str) -> Price | None:
        """The price of the longest known name `model` starts with (see the module docstring)."""
        wanted = model.strip().lower()
        names = sorted((n for n in self.prices if _matches(wanted, n)), key=len, reverse=True)
        return self.prices[names[0]] if names else None

    def cost(self, model: str, usage: Usage) -> float | None:
        """Estimated dollars for `usage` of `model`; None when the model has no known price."""
        price = self.price(model)
        return None if price is None else price.cost(usage)


@dataclass(frozen=True)
class UsageRow:
    """The work of one role with one model (over every round it ran in), or the orchestrator's."""

    role: str
    model: str
    runs: int
    turns: int
    usage: Usage


def usage_rows(
    agents: Sequence[AgentResult], orchestrator: Usage, orchestrator_model: str
) -> list[UsageRow]:
    """One row per agent role and model, in role order, then the orchestrator's."""
    grouped: dict[tuple[str, str], UsageRow] = {}
    for result in agents:
        key = (result.role, result.model)
        row = grouped.get(key, UsageRow(result.role, result.model, 0, 0, Usage()))
        grouped[key] = UsageRow(
            row.role, row.model, row.runs + 1, row.turns + result.turns, row.usage + result.usage
        )
    rows = [grouped[key] for key in sorted(grouped, key=lambda key: role_rank(key[0]))]
    return [*rows, UsageRow(ORCHESTRATOR, orchestrator_model, 1, 0, orchestrator)]


def run_cost(
    agents: Sequence[AgentResult],
    orchestrator: Usage,
    orchestrator_model: str = "",
    prices: PriceTable | None = None,
) -> float | None:
    """Estimated dollars of the whole run; None when a model that was used has no price."""
    prices = prices or PriceTable.default()
    total = 0.0
    for row in usage_rows(agents, orchestrator, orchestrator_model):
        cost = prices.cost(row.model, row.usage)
        if cost is None and row.usage.total:
            return None
        total += cost or 0.0
    return total
