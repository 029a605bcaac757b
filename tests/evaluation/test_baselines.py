"""Baselines for ``compare``: grain-averaged threshold and the 1 %-stroke forest."""

from __future__ import annotations

import numpy as np
import pytest

from ebsdphase import EbsdphaseError
from ebsdphase.evaluation.baselines import parse_spec, run_baseline
from ebsdphase.labelling import agreement
from _blockmap import block_map


def test_parse_spec():
    assert parse_spec("grain-threshold:bs") == ("grain-threshold", ("bs",), None)
    assert parse_spec("grain-threshold:BS=120") == ("grain-threshold", ("bs",), 120.0)
    assert parse_spec("forest:bs+kam") == ("forest", ("bs", "kam"), None)
    assert parse_spec("forest") == ("forest", ("bs",), None)
    for bad, msg in [("unet:bs", "unknown baseline"), ("forest:bs=3", "only grain-threshold"),
                     ("grain-threshold:bs=x", "not a number"), ("grain-threshold:bs,kam", "one channel")]:
        with pytest.raises(EbsdphaseError, match=msg):
            parse_spec(bad)


def test_grain_threshold_baseline_on_noisy_map():
    m, truth, _ = block_map(noise=40.0)
    pred = run_baseline("grain-threshold:bs", m)
    assert pred.shape == m.shape and pred.dtype == np.uint8
    assert set(np.unique(pred)) <= {0, 1}
    assert agreement(pred, truth) > 0.99
    # a threshold above every grain mean makes everything martensite
    assert (run_baseline("grain-threshold:bs=1000", m) == 1).all()


def test_forest_baseline_needs_labels_and_is_deterministic():
    m, truth, _ = block_map(noise=30.0)
    with pytest.raises(EbsdphaseError, match="give the labels"):
        run_baseline("forest:bs", m)
    a = run_baseline("forest:bs", m, truth, seed=2)
    b = run_baseline("forest:bs", m, truth, seed=2)
    assert np.array_equal(a, b)
    assert agreement(a, truth) > 0.85
