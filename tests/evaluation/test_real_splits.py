"""Real two-phase maps split top/bottom: labels from the indexed phase, and the baselines
on the test parts (the U-Net figures come from benchmarks/bench_real_splits.py)."""

from __future__ import annotations

import numpy as np
import pytest

from ebsdphase.core.classes import labels_path, read_labels
from ebsdphase.evaluation.baselines import run_baseline
from ebsdphase.evaluation.metrics import evaluate
from ebsdphase.evaluation.splits import REAL_SPLITS, phase_labels, split_map, write_split
from ebsdphase.io import read_map

SPLITS = {s.name: s for s in REAL_SPLITS}


@pytest.fixture(scope="module")
def written(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("splits")
    return {s.name: write_split(s, shared_data, folder) for s in REAL_SPLITS}


def test_labels_come_from_the_indexed_phase_and_the_parts_do_not_overlap(shared_data):
    s = SPLITS["TRIP"]
    ebsd = read_map(shared_data / s.path)
    labels = phase_labels(ebsd, s.phases)
    assert np.array_equal(labels == 0, ebsd.phase_id == 2) and np.array_equal(labels == 1, ebsd.phase_id == 1)
    assert np.array_equal(labels == 255, ebsd.phase_id == 0)
    top, top_lab, bottom, bottom_lab = split_map(ebsd, labels, s.train_share)
    assert top.rows + bottom.rows == ebsd.rows and top.rows == round(0.6 * ebsd.rows)
    assert np.array_equal(np.concatenate([top_lab, bottom_lab]), labels)


@pytest.mark.parametrize("name", sorted(SPLITS))
def test_baselines_beat_chance_on_the_real_test_parts(written, name):
    s = SPLITS[name]
    test_map = written[name][1]
    ebsd = read_map(test_map)
    truth = read_labels(labels_path(test_map, None), ebsd.shape)
    forest = evaluate(run_baseline(f"forest:{s.channels.replace(',', '+')}", ebsd, truth), truth)
    assert forest.balanced_accuracy > 0.5 and not forest.majority_only
    notes: dict = {}
    threshold = evaluate(run_baseline(f"grain-threshold:{s.quality}", ebsd, truth, notes=notes), truth)
    assert threshold.balanced_accuracy > 0.55
    # the polarity comes from the labels: on TRIP the retained austenite has the higher band slope
    assert notes["high_class"] == (1 if name == "TRIP" else 0)
