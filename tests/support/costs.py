"""The cost table of a pull request body read back as numbers, to compare with what the
scripted model served."""

from __future__ import annotations

from tests.fakes import ServedUsage

# Input, output, cache read, cache write: the order of the cost table's token columns.
Tokens = tuple[int, int, int, int]


def cost_rows(body: str) -> dict[str, Tokens]:
    """Each row of the `## Cost` table (by its first cell, bold stripped) → its token counts."""
    section = body.split("## Cost", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, Tokens] = {}
    for line in section.splitlines():
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        if len(cells) == 8 and cells[3].replace(",", "").isdigit():
            a, b, c, d = (int(cell.replace(",", "")) for cell in cells[3:7])
            rows[cells[0]] = (a, b, c, d)
    return rows


def tokens(served: ServedUsage) -> Tokens:
    return (
        served.input_tokens,
        served.output_tokens,
        served.cache_read_input_tokens,
        served.cache_creation_input_tokens,
    )


def minus(served: ServedUsage, usage: dict[str, int]) -> ServedUsage:
    """`served` without one answer's usage (one that never reached its caller)."""
    return ServedUsage(
        requests=served.requests - 1,
        input_tokens=served.input_tokens - usage["input_tokens"],
        output_tokens=served.output_tokens - usage["output_tokens"],
        cache_creation_input_tokens=served.cache_creation_input_tokens
        - usage["cache_creation_input_tokens"],
        cache_read_input_tokens=served.cache_read_input_tokens - usage["cache_read_input_tokens"],
    )
