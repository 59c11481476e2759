"""The price table: list prices, cost math, dated model ids, unknown models, overrides."""

from __future__ import annotations

import pytest

from bot.core.pricing import PRICES_ENV, Price, PriceTable
from bot.core.usage import Usage
from bot.errors import ConfigError

USAGE = Usage(
    input_tokens=120_000, output_tokens=8_000, cache_read_tokens=500_000, cache_write_tokens=40_000
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-opus-4-6", (5.0, 25.0, 6.25, 0.5)),
        ("claude-opus-4-5", (5.0, 25.0, 6.25, 0.5)),
        ("claude-sonnet-4-6", (3.0, 15.0, 3.75, 0.3)),
        ("claude-sonnet-4-5", (3.0, 15.0, 3.75, 0.3)),
        ("claude-haiku-4-5", (1.0, 5.0, 1.25, 0.1)),
    ],
)
def test_default_prices_are_the_documented_list_prices(
    model: str, expected: tuple[float, float, float, float]
) -> None:
    """Each model we use has its list price; cache writes 1.25 × and reads 0.1 × input."""
    price = PriceTable.default().price(model)
    assert price is not None
    assert (price.input, price.output, price.cache_write, price.cache_read) == pytest.approx(
        expected
    )


def test_cost_matches_hand_computed_numbers() -> None:
    """Sonnet: 0.12M×3 + 0.008M×15 + 0.5M×0.3 + 0.04M×3.75 = 0.36+0.12+0.15+0.15 = $0.78."""
    assert PriceTable.default().cost("claude-sonnet-4-6", USAGE) == pytest.approx(0.78)
    opus = Usage(
        input_tokens=10_000,
        output_tokens=2_000,
        cache_read_tokens=100_000,
        cache_write_tokens=8_000,
    )
    # 0.01M×5 + 0.002M×25 + 0.1M×0.5 + 0.008M×6.25 = 0.05 × 4
    assert PriceTable.default().cost("claude-opus-4-5", opus) == pytest.approx(0.20)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5@20251001", "claude-haiku-4-5"),
        ("claude-opus-4-6-latest", "claude-opus-4-6"),
        ("  Claude-Opus-4-5 ", "claude-opus-4-5"),
    ],
)
def test_dated_and_decorated_ids_match_their_family(model: str, family: str) -> None:
    """A date or tag suffix, case and surrounding blanks do not change the price."""
    table = PriceTable.default()
    assert table.cost(model, USAGE) == table.cost(family, USAGE)
    assert table.cost(model, USAGE) is not None


@pytest.mark.parametrize(
    "model",
    ["gpt-4o", "claude-opus-4-7", "claude-sonnet-4-50", "claude-sonnet-4", "claude-3-opus", ""],
)
def test_unknown_model_has_no_cost(model: str) -> None:
    """A model without a known price costs None (shown as n/a), never a neighbour's price."""
    assert PriceTable.default().cost(model, USAGE) is None


def test_longest_prefix_wins_and_a_version_suffix_is_another_model() -> None:
    """With both `claude-sonnet-4` and `claude-sonnet-4-5` known, each id gets its own."""
    table = PriceTable.default().with_overrides({"claude-sonnet-4": {"input": 7, "output": 70}})
    assert table.price("claude-sonnet-4-5-20250929") == table.price("claude-sonnet-4-5")
    dated = table.price("claude-sonnet-4-20250514")
    assert dated is not None and dated.input == 7
    assert table.price("claude-sonnet-4-7") is None
    # A dated id priced on its own beats its family for that date only.
    table = table.with_overrides({"claude-sonnet-4-5-20250929": {"input": 9, "output": 9}})
    specific = table.price("claude-sonnet-4-5-20250929-v1:0")
    assert specific is not None and specific.input == 9
    family = table.price("claude-sonnet-4-5-20260101")
    assert family is not None and family.input == 3


def test_overrides_from_json_replace_and_add_models() -> None:
    """ORCHESTRATE_PRICES JSON replaces an entry, adds one, and fills cache prices from input."""
    base = PriceTable.default()
    table = base.with_overrides(
        '{"claude-sonnet-4-6": {"input": 2, "output": 10, "cache_write": 2.5, "cache_read": 0.2},'
        ' "my-model": {"input": 4, "output": 8}}'
    )
    assert table.price("claude-sonnet-4-6") == Price(
        input=2, output=10, cache_write=2.5, cache_read=0.2
    )
    assert table.price("my-model-2025") == Price(input=4, output=8, cache_write=5, cache_read=0.4)
    assert table.cost("my-model", Usage(input_tokens=1_000_000)) == pytest.approx(4.0)
    # The default table is not changed by an override.
    assert base.cost("claude-sonnet-4-6", USAGE) == pytest.approx(0.78)


def test_overrides_from_a_mapping() -> None:
    """A repo config's mapping works like the JSON text."""
    table = PriceTable.default().with_overrides({"claude-haiku-4-5": {"input": 0.5, "output": 2}})
    assert table.cost("claude-haiku-4-5", Usage(output_tokens=1_000_000)) == pytest.approx(2.0)


def test_from_env_reads_the_variable_and_defaults_without_it() -> None:
    """`from_env` applies ORCHESTRATE_PRICES when set, and is the default table otherwise."""
    assert PriceTable.from_env({}) == PriceTable.default()
    table = PriceTable.from_env({PRICES_ENV: '{"x-model": {"input": 1, "output": 1}}'})
    assert table.price("x-model") is not None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"m": {"input": -1, "output": 1}}', "prices of 'm' are invalid"),
        ('{"m": {"output": 1}}', "input: Field required"),
        ('{"m": {"input": 1, "output": 1, "cache_read": -0.5}}', "cache_read"),
        ('{" ": {"input": 1, "output": 1}}', "model name is empty"),
    ],
)
def test_bad_overrides_are_config_errors_naming_the_variable(raw: str, message: str) -> None:
    """A malformed override is refused with a message naming ORCHESTRATE_PRICES."""
    with pytest.raises(ConfigError, match=PRICES_ENV) as caught:
        PriceTable.default().with_overrides(raw)
    assert message in str(caught.value)
