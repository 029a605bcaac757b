"""Shared fixtures: the real maps in ../shared/data (skipped cleanly when absent) and the
session's tiny trained bundle (``card``)."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test maps not found at {SHARED_DATA}")
    return SHARED_DATA


def shared_file(*parts: str) -> Path:
    """A file under ../shared/data, or skip the calling test when it is absent."""
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real test map not found: {p}")
    return p


@pytest.fixture(scope="session")
def card(tmp_path_factory) -> Path:
    """The card of the session's tiny bundle (trained once, on first use; ``_tinymodel``)."""
    from _tinymodel import tiny_bundle

    return tiny_bundle(tmp_path_factory)
