"""``evaluate`` and ``compare`` tables in an 80-column terminal: one line per map, long
names shortened in the middle, headers whole, full names kept in metrics.json."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from _tinymodel import blob_map
from ebsdphase.core.classes import write_labels
from ebsdphase.io import write_map

LONG = "Arcelor_M1700_CROPPED_gf1_with_a_name_far_too_long_for_any_column"



@pytest.fixture()
def folder(tmp_path):
    maps = tmp_path / "maps"
    for i, name in enumerate((LONG, "short")):
        ebsd, lab = blob_map(80 + i, shape=(24, 32))
        write_map(ebsd, maps / f"{name}.ebsd.h5")
        write_labels(maps / f"{name}.labels.png", lab)
    return maps


def _rows(output: str, start: str) -> list[str]:
    return [line for line in output.splitlines() if line.lstrip().startswith(start)]


def _fits(output: str) -> None:
    too_wide = [line for line in output.splitlines() if len(line) > 80]
    assert not too_wide, too_wide


def test_evaluate_table_fits_80_columns(card, folder, tmp_path):
    from ebsdphase.cli.main import app

    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["evaluate", str(folder), "--model", str(card), "-o", str(out)],
                           env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    _fits(r.output)
    long_rows = _rows(r.output, "Arcelor")
    assert len(long_rows) == 1 and "…" in long_rows[0]
    assert len(_rows(r.output, "short")) == 1
    # every cell of the long map's row is on its one line: CA, bal., kappa, 2 recalls, fractions, unlabelled
    assert len(long_rows[0].split()) >= 8
    for header in ("CA %", "bal. %", "kappa", "recall %", "martensite", "true / pred", "unlab."):
        assert header in r.output, header
    assert LONG in json.loads((out / "metrics.json").read_text())["per_map"]


def test_compare_table_fits_80_columns_one_row_per_map(card, folder, tmp_path):
    from ebsdphase.cli.main import app

    out = tmp_path / "cmp"
    r = CliRunner().invoke(app, ["compare", str(folder), "--methods", f"{card},grain-threshold:bs,forest:bs",
                                 "-o", str(out)], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    _fits(r.output)
    long_rows = _rows(r.output, "Arcelor")
    assert len(long_rows) == 1 and "…" in long_rows[0]
    assert len(long_rows[0].split()) == 1 + 3  # the name and one CA per method
    for header in ("unet:", "tiny", "grain-threshold:", "forest:", "bs"):
        assert header in r.output
    for pooled in ("all: CA %", "balanced %", "kappa", "ferrite % pred", "ferrite % true", "s / map"):
        assert len(_rows(r.output, pooled)) == 1, pooled
    assert LONG in json.loads((out / "metrics.json").read_text())["maps"]
