"""Labelling stages on small hand-built maps (threshold, majority, non-indexed, scribbles, forest)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ebsdphase import EbsdphaseError
from ebsdphase.labelling import (
    agreement,
    grain_majority,
    handle_unindexed,
    otsu,
    read_scribbles,
    strokes_from_labels,
    threshold_labels,
    write_scribbles,
)
from ebsdphase.labelling.forest import multiscale_features, train_forest
from ebsdphase.core.classes import UNLABELLED, ClassSet
from _blockmap import as_edax, block_map


# -- Otsu -----------------------------------------------------------------------------------
def test_otsu_matches_brute_force_on_integer_values():
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(70, 15, 3000), rng.normal(170, 25, 5000)]).round().clip(0, 255)
    lo, hi = v.min(), v.max()
    t = otsu(v, bins=int(hi - lo))     # one bin per integer value

    def between(th):
        a, b = v[v <= th], v[v > th]
        return a.size * b.size * (a.mean() - b.mean()) ** 2

    cands = np.arange(lo, hi)
    best = cands[np.argmax([between(c) for c in cands])]
    assert between(t) == pytest.approx(between(best), rel=1e-9)
    assert 90 < t < 150


def test_otsu_constant_and_empty():
    assert otsu(np.full(10, 3.0)) == 3.0
    with pytest.raises(EbsdphaseError):
        otsu(np.array([np.nan, np.inf]))


# -- threshold ------------------------------------------------------------------------------
def test_threshold_sides_and_value():
    m, truth, _ = block_map()
    labels, t = threshold_labels(m, "bs")
    idx = m.indexed
    assert 90 < t < 150
    assert agreement(np.where(idx, labels, UNLABELLED), np.where(idx, truth, UNLABELLED)) > 0.97
    # a given value is used as is; with high_class=1 the sides swap
    labels2, t2 = threshold_labels(m, "bs", value=t, high_class=1)
    assert t2 == t
    assert np.array_equal(labels2, 1 - labels)


def test_threshold_high_kam_is_martensite():
    m, truth, _ = block_map()
    fake_kam = np.where(truth == 1, 0.6, 0.2).astype(np.float32)
    m.channels["mad"] = fake_kam          # mad: higher = worse fit = martensite, like kam
    labels, _ = threshold_labels(m, "mad")
    assert np.array_equal(labels, truth)


def test_threshold_missing_channel_names_map_and_channel():
    m, _, _ = block_map()
    with pytest.raises(EbsdphaseError, match=r"block\.test.*'bc'.*bs"):
        threshold_labels(m, "bc")


# -- grain majority -------------------------------------------------------------------------
def test_grain_majority_votes_ties_and_unlabelled():
    ids = np.array([[0, 0, 0, 1, 1, 2, -1]])
    labels = np.array([[0, 0, 1, 0, 1, 255, 1]], np.uint8)
    out = grain_majority(labels, ids)
    # grain 0 -> 0 (2 votes to 1); grain 1 tie -> 1 (paper: "martensite otherwise");
    # grain 2 has no votes -> unchanged; grain -1 (not indexed) untouched
    assert out.tolist() == [[0, 0, 0, 1, 1, 255, 1]]
    assert labels.tolist() == [[0, 0, 1, 0, 1, 255, 1]]      # input not modified


def test_grain_majority_keep_pixels_above():
    ids = np.array([[0, 0, 0, 0, 1, 1, 1]])
    labels = np.array([[0, 0, 0, 1, 1, 1, 0]], np.uint8)
    assert grain_majority(labels, ids).tolist() == [[0, 0, 0, 0, 1, 1, 1]]
    assert grain_majority(labels, ids, keep_pixels_above=3).tolist() == [[0, 0, 0, 1, 1, 1, 1]]


def test_grain_majority_fixes_noisy_threshold():
    m, truth, gid = block_map(noise=40.0)
    gid = np.where(m.indexed, gid, -1)
    pre, _ = threshold_labels(m, "bs")
    post = grain_majority(pre, gid)
    idx = m.indexed
    assert agreement(post[idx], truth[idx]) == 1.0
    assert agreement(pre[idx], truth[idx]) < 0.95


# -- non-indexed pixels ---------------------------------------------------------------------
def test_unindexed_martensite_removes_thin_lines_between_ferrite():
    m, truth, gid = block_map()
    labels = truth.copy()
    labels[~m.indexed] = UNLABELLED
    out = handle_unindexed(labels, m.indexed, "martensite")
    assert np.array_equal(out, truth)            # line -> ferrite, pixels inside martensite -> martensite
    no_cleanup = handle_unindexed(labels, m.indexed, "martensite", radius=0)
    assert (no_cleanup[0:12, 47:49] == 1).all()
    assert np.array_equal(out[m.indexed], labels[m.indexed])   # indexed pixels never change


def test_unindexed_nearest_and_ignore():
    indexed = np.array([[1, 0, 0, 1]], bool)
    labels = np.array([[0, 1, 1, 1]], np.uint8)
    assert handle_unindexed(labels, indexed, "nearest").tolist() == [[0, 0, 1, 1]]
    assert handle_unindexed(labels, indexed, "ignore").tolist() == [[0, 255, 255, 1]]
    with pytest.raises(EbsdphaseError, match="unknown rule"):
        handle_unindexed(labels, indexed, "guess")


# -- scribbles ------------------------------------------------------------------------------
def test_scribble_round_trip_and_black_is_unlabelled(tmp_path):
    s = np.full((5, 7), UNLABELLED, np.uint8)
    s[1, 1:4] = 0
    s[3, 2:6] = 1
    p = write_scribbles(tmp_path / "s.png", s)
    assert np.array_equal(read_scribbles(p, (5, 7)), s)
    rgb = ClassSet().colourize(s)                 # RGB, unlabelled drawn black
    Image.fromarray(rgb, "RGB").save(tmp_path / "rgb.png")
    assert np.array_equal(read_scribbles(tmp_path / "rgb.png", (5, 7)), s)


def test_scribble_errors_name_file_colour_and_count(tmp_path):
    rgb = np.zeros((5, 7, 3), np.uint8)
    rgb[0, :3] = (255, 0, 0)
    rgb[2, :4] = (200, 30, 30)                    # anti-aliased red: not a class colour
    Image.fromarray(rgb, "RGB").save(tmp_path / "bad.png")
    with pytest.raises(EbsdphaseError, match=r"bad\.png: 4 pixels .*\(200, 30, 30\) on 4 px"):
        read_scribbles(tmp_path / "bad.png", (5, 7))
    with pytest.raises(EbsdphaseError, match=r"bad\.png: scribble image is 5 x 7 .* map is 6 x 7"):
        read_scribbles(tmp_path / "bad.png", (6, 7))
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(EbsdphaseError, match=r"junk\.png: not a readable image"):
        read_scribbles(tmp_path / "junk.png", (5, 7))
    with pytest.raises(EbsdphaseError, match="no such scribble file"):
        read_scribbles(tmp_path / "absent.png", (5, 7))


def test_strokes_stay_inside_classes_and_cover_the_fraction():
    truth = np.zeros((120, 160), np.uint8)
    truth[:, 80:] = 1
    truth[40:80, 20:50] = 1
    truth[0:5, :] = UNLABELLED
    s = strokes_from_labels(truth, fraction=0.02, seed=3)
    marked = s != UNLABELLED
    assert np.array_equal(s[marked], truth[marked])
    assert 0.015 < marked.mean() < 0.03
    for c in (0, 1):
        assert 0.3 < (s == c).sum() / marked.sum() < 0.7
    # strokes, not scattered pixels: most marked pixels have several marked neighbours
    from scipy import ndimage

    n = ndimage.convolve(marked.astype(int), np.ones((3, 3), int), mode="constant")
    assert np.median(n[marked]) >= 6


# -- forest ---------------------------------------------------------------------------------
def test_multiscale_features_shape_and_meaning():
    img = np.zeros((32, 32), np.float32)
    img[:, 16:] = 1.0
    f = multiscale_features(img, sigmas=(1.0, 2.0))
    assert f.shape == (32, 32, 13)
    assert np.array_equal(f[..., 0], img)
    grad = f[..., 2]                       # gradient magnitude at sigma 1
    assert grad[:, 15:17].min() > grad[:, :10].max() + 0.1


def test_forest_learns_from_scribbles():
    m, truth, _ = block_map(noise=30.0)
    s = strokes_from_labels(truth, fraction=0.05, seed=0)
    # scales up to 4 px: the toy map is only 48 x 64
    forest = train_forest(m, s, ("bs",), n_estimators=20, sigmas=(1, 2, 4))
    pred = forest.predict(m)
    assert pred.shape == m.shape and pred.dtype == np.uint8
    # the spatial features beat a pixel threshold on the same noisy channel
    assert agreement(pred, truth) > max(0.9, agreement(threshold_labels(m, "bs")[0], truth) + 0.03)


def test_forest_needs_two_classes():
    m, truth, _ = block_map()
    s = np.full(m.shape, UNLABELLED, np.uint8)
    s[20:24, 2:10] = 0
    with pytest.raises(EbsdphaseError, match="at least two classes"):
        train_forest(m, s)
    with pytest.raises(EbsdphaseError, match="mark no pixel"):
        train_forest(m, np.full(m.shape, UNLABELLED, np.uint8))


def test_library_labelling_defaults_read_the_vendor_neutral_quality():
    # label_map, threshold_labels and the forest's features default to `quality` (BS on
    # Oxford-like maps, IQ on EDAX-like ones): the same map under either vendor labels alike
    from ebsdphase.labelling import label_map
    from ebsdphase.labelling.forest import map_features

    m, truth, _ = block_map(noise=40.0)
    edax = as_edax(m)
    assert np.array_equal(threshold_labels(edax)[0], threshold_labels(m, "bs")[0])
    assert np.array_equal(label_map(edax).labels, label_map(m, channel="bs").labels)
    # the record names the channel `quality` read on each map (a --value is on its scale)
    assert label_map(edax).info["channel"] == "quality (iq)" and label_map(m).info["channel"] == "quality (bs)"
    assert np.array_equal(map_features(edax), map_features(m, ("bs",)))
