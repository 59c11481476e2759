"""The environment cache key: every input changes it, order of the allow-list does not."""

from __future__ import annotations

from bot.core.env_key import environment_key


def test_environment_key_covers_every_input() -> None:
    """Changing any defining input changes the key; order of files and allow entries does not."""
    base = {
        "files": {"uv.lock": b"1", "pyproject.toml": b"2"},
        "steps": ["uv sync"],
        "interpreter": "3.11.7",
        "allow": ["pypi.org", "*.pythonhosted.org"],
    }
    key = environment_key(**base)  # type: ignore[arg-type]
    variants = [
        {**base, "files": {"uv.lock": b"1!", "pyproject.toml": b"2"}},
        {**base, "files": {"uv.lock": b"12", "pyproject.toml": b""}},
        {**base, "files": {"uv.lock": b"1"}},
        {**base, "steps": ["uv sync", ""]},
        {**base, "interpreter": "3.12.1"},
        {**base, "allow": ["pypi.org"]},
        {**base, "extra": {"arch": "arm64"}},
    ]
    assert len({environment_key(**v) for v in variants} | {key}) == len(variants) + 1  # type: ignore[arg-type]
    reordered = {
        **base,
        "files": {"pyproject.toml": b"2", "uv.lock": b"1"},
        "allow": ["*.pythonhosted.org", "pypi.org"],
    }
    assert environment_key(**reordered) == key  # type: ignore[arg-type]
