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


def test_grain_threshold_takes_its_polarity_from_strokes_when_martensite_is_brighter():
    import dataclasses

    m, truth, _ = block_map(noise=20.0)
    bright = dataclasses.replace(m, channels={"bs": (260.0 - m.channels["bs"]).astype(np.float32)}, cache={})
    blind = run_baseline("grain-threshold:bs", bright)  # the DP default: high BS = ferrite
    assert agreement(blind, truth) < 0.2
    notes: dict = {}
    pred = run_baseline("grain-threshold:bs", bright, truth, notes=notes)
    assert agreement(pred, truth) > 0.99
    assert notes["high_class"] == 1 and notes["polarity"] == "from strokes on the labels"
    assert notes["stroke_means"][1] > notes["stroke_means"][0]
    # on the ordinary map the strokes confirm the default
    assert run_baseline("grain-threshold:bs", m, truth, notes=notes) is not None and notes["high_class"] == 0
