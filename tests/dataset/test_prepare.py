"""prepare: physically right augmentation, crops, splits, the dataset file and the CLI."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from ebsdphase import EBSDMap, EbsdphaseError, Phase
from ebsdphase.dataset.augment import AUGMENTATIONS, IDENTITY, Augmentation, by_name
from ebsdphase.dataset.crops import crop_grid, crop_positions
from ebsdphase.dataset.io import open_dataset
from ebsdphase.dataset.prepare import prepare
from ebsdphase.dataset.split import split_maps
from ebsdphase.features import ChannelRecipe
from ebsdphase.core.classes import ClassSet, write_labels

PHASES = {1: Phase("Iron bcc", "m-3m")}
ROTATIONS = [a for a in AUGMENTATIONS if a.coarse == 1]


# -- helpers ------------------------------------------------------------------------------------
def _wxyz(rot: Rotation) -> np.ndarray:
    x, y, z, w = np.moveaxis(rot.as_quat(), -1, 0)
    return np.stack([w, x, y, z], axis=-1)


def _rot(q_wxyz: np.ndarray) -> Rotation:
    """The scipy rotation of sample->crystal quaternions: it maps sample vectors to crystal ones."""
    q = np.asarray(q_wxyz, np.float64)
    return Rotation.from_quat(np.concatenate([q[..., 1:], q[..., :1]], axis=-1))


def grain_map(rows=20, cols=28, n_grains=7, seed=0, unindexed=0.03, source="tiny.ebsd.h5"):
    """A Voronoi map of random grains with ~0.7 deg orientation noise and a few holes."""
    rng = np.random.default_rng(seed)
    seeds = rng.uniform((0, 0), (rows, cols), (n_grains, 2))
    rr, cc = np.mgrid[:rows, :cols]
    gid = np.argmin((rr[..., None] - seeds[:, 0]) ** 2 + (cc[..., None] - seeds[:, 1]) ** 2, axis=-1)
    grain_rot = Rotation.random(n_grains, random_state=seed)
    noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(0.7), (rows * cols, 3)))
    q = _wxyz(noise * grain_rot[gid.ravel()]).reshape(rows, cols, 4)
    pid = np.ones((rows, cols), np.int16)
    pid[rng.random((rows, cols)) < unindexed] = 0
    q[pid == 0] = 0
    bs = (40 + 15 * (gid % 2) + rng.normal(0, 2, (rows, cols))).astype(np.float32)
    labels = (gid % 2).astype(np.uint8)
    m = EBSDMap(q.astype(np.float32), pid, PHASES, (0.1, 0.1), {"bs": bs}, source=source)
    return m, labels


def write_pair(folder: Path, name: str, m: EBSDMap, labels: np.ndarray, classes=None) -> Path:
    from ebsdphase.io import write_map

    path = folder / f"{name}.ebsd.h5"
    write_map(m, path)
    write_labels(folder / f"{name}.labels.png", labels, classes)
    return path


# -- augmentation: the frame --------------------------------------------------------------------
def test_twelve_maps_per_source_map_as_in_the_paper():
    assert len(AUGMENTATIONS) == 12 and AUGMENTATIONS[0] == IDENTITY
    names = [a.name for a in AUGMENTATIONS]
    assert len(set(names)) == 12
    assert {a.coarse for a in AUGMENTATIONS} == {1, 2}
    assert {(a.axis, a.angle) for a in ROTATIONS} == {("z", 0), ("x", 180), ("y", 180), ("z", 180),
                                                      ("z", 90), ("z", 270)}
    assert by_name("z90+coarse2") == Augmentation("z", 90, 2)


@pytest.mark.parametrize("aug", ROTATIONS, ids=lambda a: a.name)
def test_matrix_and_quaternion_are_the_same_rotation(aug):
    np.testing.assert_allclose(_rot(aug.quaternion).as_matrix(), aug.matrix, atol=1e-12)
    assert np.allclose(aug.matrix @ aug.matrix.T, np.eye(3))


@pytest.mark.parametrize("aug", ROTATIONS, ids=lambda a: a.name)
def test_grid_moves_pixels_as_the_rotation_moves_sample_points(aug):
    rows, cols = 5, 8
    for r, c in [(0, 0), (1, 6), (4, 3), (2, 7)]:
        grid = np.zeros((rows, cols), int)
        grid[r, c] = 1
        new = aug.rotate_grid(grid)
        (r2,), (c2,) = np.nonzero(new)
        # positions (x = col, y = row) relative to the grid centre
        p = np.array([c - (cols - 1) / 2, r - (rows - 1) / 2, 0.0])
        p2 = aug.matrix @ p
        assert new.shape == aug.output_shape((rows, cols))
        assert (c2 - (new.shape[1] - 1) / 2, r2 - (new.shape[0] - 1) / 2) == pytest.approx(p2[:2])


def test_crystal_001_along_x_turns_to_y_with_the_lath_under_z90():
    rows, cols = 15, 15
    # crystal [001] along sample +x: the sample->crystal rotation maps x to z
    g = Rotation.from_rotvec([0, -np.pi / 2, 0])
    assert np.allclose(g.apply([1, 0, 0]), [0, 0, 1])
    q = np.broadcast_to(_wxyz(g), (rows, cols, 4)).astype(np.float32)
    lath = np.zeros((rows, cols), np.float32)
    lath[7, 7:] = 1.0  # a half-lath from the centre towards +x
    m = EBSDMap(q, np.ones((rows, cols), np.int16), PHASES, (0.1, 0.1), {"lath": lath})

    turned = by_name("z90").apply(m)
    rr, cc = np.nonzero(turned.channels["lath"])
    # the half-lath now runs from the centre towards +y (down the rows) ...
    assert np.all(cc == 7) and rr.min() == 7 and rr.max() == 14
    # ... and so does crystal [001] seen from the new sample frame
    d = _rot(turned.quaternions[0, 0]).inv().apply([0, 0, 1])
    np.testing.assert_allclose(d, [0, 1, 0], atol=1e-6)
    # a sign error (q r instead of q r^-1) would point it to -y
    wrong = _rot(m.quaternions[0, 0]) * _rot(by_name("z90").quaternion)
    assert np.allclose(wrong.inv().apply([0, 0, 1]), [0, -1, 0], atol=1e-6)


@pytest.mark.parametrize("aug", ROTATIONS[1:], ids=lambda a: a.name)
def test_a_generic_crystal_direction_turns_with_the_image(aug):
    """An arrow drawn along a crystal direction's in-plane trace keeps pointing along it,
    and the out-of-plane component flips exactly when the rotation turns the sample over."""
    rows, cols = 41, 41
    g = Rotation.from_euler("ZXZ", [0.4, 0.9, 2.1])
    u = np.array([1.0, 2.0, 3.0]) / np.sqrt(14)  # crystal direction with no symmetry shortcut
    s = g.inv().apply(u)  # its sample coordinates
    q = np.broadcast_to(_wxyz(g), (rows, cols, 4)).astype(np.float32)
    arrow = np.zeros((rows, cols), np.float32)
    t = np.linspace(0, 18, 200)
    arrow[np.rint(20 + t * s[1] / np.hypot(*s[:2])).astype(int),
          np.rint(20 + t * s[0] / np.hypot(*s[:2])).astype(int)] = 1.0
    m = EBSDMap(q, np.ones((rows, cols), np.int16), PHASES, (0.1, 0.1), {"arrow": arrow})

    turned = aug.apply(m)
    s2 = _rot(turned.quaternions[5, 5]).inv().apply(u)
    np.testing.assert_allclose(s2, aug.matrix @ s, atol=1e-6)
    rr, cc = np.nonzero(turned.channels["arrow"])
    direction = np.array([cc.mean() - 20, rr.mean() - 20])
    direction /= np.linalg.norm(direction)
    assert direction @ (s2[:2] / np.hypot(*s2[:2])) > np.cos(np.deg2rad(3))


def test_x180_twice_gives_back_the_quaternions_up_to_sign():
    m, _ = grain_map(seed=1)
    x180 = by_name("x180")
    back = x180.apply(x180.apply(m))
    np.testing.assert_array_equal(back.phase_id, m.phase_id)
    dot = np.abs(np.sum(back.quaternions.astype(np.float64) * m.quaternions, axis=-1))
    np.testing.assert_allclose(dot[m.indexed], 1.0, atol=1e-6)
    assert np.all(back.quaternions[~m.indexed] == 0)
    # the quarter turns compose to the half turn
    z90 = by_name("z90")
    twice = z90.apply(z90.apply(m))
    half = by_name("z180").apply(m)
    dot = np.abs(np.sum(twice.quaternions.astype(np.float64) * half.quaternions, axis=-1))
    np.testing.assert_allclose(dot[half.indexed], 1.0, atol=1e-6)


@pytest.mark.parametrize("aug", AUGMENTATIONS, ids=lambda a: a.name)
def test_channels_labels_and_step_follow_the_grid(aug):
    m, labels = grain_map(21, 27, seed=2)
    m.step = (0.1, 0.2)
    out = aug.apply(m)
    assert out.shape == aug.output_shape(m.shape)
    assert aug.apply_grid(labels).shape == out.shape
    np.testing.assert_array_equal(out.channels["bs"], aug.apply_grid(m.channels["bs"]))
    np.testing.assert_array_equal(out.phase_id, aug.apply_grid(m.phase_id))
    sx, sy = (0.2, 0.1) if aug.swaps_axes else (0.1, 0.2)
    assert out.step == pytest.approx((sx * aug.coarse, sy * aug.coarse))
    assert out.cache == {} and out.metadata["augmentation"] == aug.name
    if aug.coarse == 2:
        # top-left pixel of each 2 x 2 block of the rotated grid
        np.testing.assert_array_equal(out.channels["bs"], aug.rotate_grid(m.channels["bs"])[:20:2, :26:2]
                                      if not aug.swaps_axes else
                                      aug.rotate_grid(m.channels["bs"])[:26:2, :20:2])


# -- augmentation: physics (needs the crystal kernels) --------------------------------------------
@pytest.mark.parametrize("aug", ROTATIONS[1:], ids=lambda a: a.name)
def test_kam_of_the_rotated_map_is_the_rotated_kam(aug):
    from ebsdphase.crystal import kam

    m, _ = grain_map(seed=3)
    expected = aug.rotate_grid(kam(m, 1, 3.0))
    got = kam(aug.apply(m), 1, 3.0)
    assert np.count_nonzero(got) > 100
    np.testing.assert_allclose(got, expected, atol=1e-3)


def test_kam_is_recomputed_on_the_coarse_map_not_subsampled():
    from ebsdphase.crystal import kam

    m, _ = grain_map(seed=4)
    aug = by_name("z90+coarse2")
    coarse = aug.apply(m)
    turned = by_name("z90").apply(m)
    recomputed = kam(turned[0:28:2, 0:20:2], 1, 3.0)
    x = ChannelRecipe(("kam",), normalisation="none").build(coarse)
    np.testing.assert_allclose(x[..., 0], recomputed, atol=1e-5)
    subsampled = kam(turned, 1, 3.0)[0:28:2, 0:20:2]
    assert not np.allclose(recomputed, subsampled, atol=1e-3)


def _pair_disorientations(m: EBSDMap):
    from ebsdphase.crystal import disorientation

    q, ok = m.quaternions, m.indexed
    h = disorientation(q[:, :-1], q[:, 1:])
    v = disorientation(q[:-1], q[1:])
    h = np.where(ok[:, :-1] & ok[:, 1:], h, np.nan)
    v = np.where(ok[:-1] & ok[1:], v, np.nan)
    return h, v


@pytest.mark.parametrize("aug", ROTATIONS[1:], ids=lambda a: a.name)
def test_disorientation_across_every_neighbour_pair_is_unchanged(aug):
    m, _ = grain_map(seed=5)
    h, v = _pair_disorientations(m)
    h2, v2 = _pair_disorientations(aug.apply(m))
    # pair arrays move like the grid; quarter turns swap horizontal and vertical pairs
    if aug.swaps_axes:
        h, v = v, h
    np.testing.assert_allclose(h2, aug.rotate_grid(h), atol=1e-3, equal_nan=True)
    np.testing.assert_allclose(v2, aug.rotate_grid(v), atol=1e-3, equal_nan=True)
    assert np.nanmax(h2) > 15  # the map does have grain boundaries


# -- crops and splits ---------------------------------------------------------------------------
def test_crop_grid_border_policies():
    assert crop_grid((10, 7), 3) == [(r, c) for r in (0, 3, 6) for c in (0, 3)]
    assert crop_grid((10, 7), 3, "shift") == [(r, c) for r in (0, 3, 6, 7) for c in (0, 3, 4)]
    assert crop_grid((9, 6), 3, "shift") == crop_grid((9, 6), 3)
    assert crop_grid((2, 7), 3) == []
    with pytest.raises(EbsdphaseError):
        crop_grid((10, 7), 3, "pad")


def test_mostly_unlabelled_crops_are_dropped():
    labels = np.zeros((4, 8), np.uint8)
    labels[:, 4:] = 255
    labels[0, 4:6] = 1  # 2 of 16 labelled: dropped
    assert crop_positions(labels, 4) == [(0, 0)]
    labels[:2, 4:] = 1  # exactly half unlabelled: kept
    assert crop_positions(labels, 4) == [(0, 0), (0, 4)]


def test_split_maps_keeps_both_sides_and_is_seeded():
    a = split_maps(6, 0.2, seed=1)
    assert a.sum() == 1 and np.array_equal(a, split_maps(6, 0.2, seed=1))
    assert split_maps(2, 0.9, 0).sum() == 1
    assert split_maps(5, 0.0, 0).sum() == 0
    with pytest.raises(EbsdphaseError, match="at least 2"):
        split_maps(1, 0.2, 0)
    seeds = {tuple(split_maps(6, 0.5, s)) for s in range(20)}
    assert len(seeds) > 1


# -- prepare ------------------------------------------------------------------------------------
def test_identity_crops_reassemble_into_the_source_map(tmp_path):
    m, labels = grain_map(24, 40, seed=6)
    labels[0, 0] = 255
    path = write_pair(tmp_path, "a", m, labels)
    recipe = ChannelRecipe(("bs",))
    summary = prepare([path], None, recipe, tmp_path / "ds.h5", augment=False, crop=8, val=0.0)
    assert summary["splits"]["train"]["crops"] == 15
    expected = recipe.build(m)
    with open_dataset(tmp_path / "ds.h5") as ds:
        x, y = ds.split("train")
        prov = ds.provenance("train")
        got = np.full_like(expected, np.nan)
        got_labels = np.full(labels.shape, 7, np.uint8)
        for i, p in enumerate(prov):
            assert p["augmentation"] == "identity" and p["map"] == str(path)
            got[p["row"]:p["row"] + 8, p["col"]:p["col"] + 8] = x[i]
            got_labels[p["row"]:p["row"] + 8, p["col"]:p["col"] + 8] = y[i]
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got_labels, labels)


def test_border_strips_are_dropped_for_a_crop_split_and_kept_otherwise(tmp_path):
    m, labels = grain_map(20, 27, seed=7)
    path = write_pair(tmp_path, "a", m, labels)
    s = prepare([path], None, "bs", tmp_path / "ds.h5", augment=False, crop=8, val=0.0, split_by="crop")
    assert s["splits"]["train"]["crops"] == 2 * 3  # disjoint crops: none on both sides
    s = prepare([path], None, "bs", tmp_path / "ds2.h5", augment=False, crop=8, val=0.0)
    assert s["splits"]["train"]["crops"] == 3 * 4  # a last row and column shifted to the border


def _maps(tmp_path, n, shape=(24, 32)):
    paths = []
    for i in range(n):
        m, labels = grain_map(*shape, seed=10 + i)
        paths.append(write_pair(tmp_path, f"m{i}", m, labels))
    return paths


def test_split_by_map_never_puts_one_map_on_both_sides(tmp_path):
    paths = _maps(tmp_path, 5)
    s = prepare(paths, None, "bs", tmp_path / "ds.h5", crop=8, val=0.4, seed=3, split_by="map", border="drop")
    with open_dataset(tmp_path / "ds.h5") as ds:
        train = set(ds.provenance("train")["map"])
        val = set(ds.provenance("val")["map"])
        assert len(val) == 2 and len(train) == 3 and not train & val
        augs = set(ds.provenance("train")["augmentation"])
        assert len(augs) == 12
        assert ds.split("train")[0].shape[0] == s["splits"]["train"]["crops"]
        assert ds.split_by == "map"
    # per map, crops: identity/z180/x180/y180 3x4, quarter turns 4x3, coarse copies 1x2 or 2x1
    assert s["splits"]["train"]["crops"] + s["splits"]["val"]["crops"] == 5 * (6 * 12 + 6 * 2)


def test_val_maps_chooses_the_validation_maps_by_name(tmp_path):
    """A fine-tune on added maps keeps the maps its weights saw out of validation."""
    paths = _maps(tmp_path, 4)
    s = prepare(paths, None, "bs", tmp_path / "ds.h5", crop=8, augment=False, split_by="map",
                val_maps=["m1*", "m3.ebsd.h5"])
    with open_dataset(tmp_path / "ds.h5") as ds:
        val = {Path(p).name for p in ds.provenance("val")["map"]}
        train = {Path(p).name for p in ds.provenance("train")["map"]}
        assert val == {"m1.ebsd.h5", "m3.ebsd.h5"} and train == {"m0.ebsd.h5", "m2.ebsd.h5"}
        assert "--val-maps 'm1*' --val-maps m3.ebsd.h5" in ds.command
    assert s["splits"]["val"]["maps"] == sorted(str(p) for p in paths if p.name in val)
    # the same maps whatever the seed: the split is chosen, not drawn
    prepare(paths, None, "bs", tmp_path / "ds2.h5", crop=8, augment=False, seed=7, val_maps=["m1*", "m3"])
    with open_dataset(tmp_path / "ds2.h5") as ds:
        assert {Path(p).name for p in ds.provenance("val")["map"]} == val


@pytest.mark.parametrize("val_maps, split_by, message", [
    (["nothing*"], "map", "'nothing*' matches none of the 3 labelled maps"),
    (["m*"], "map", "matches every labelled map"),
    (["m1"], "crop", "needs split_by='map'"),
])
def test_val_maps_that_cannot_make_a_split_are_refused_in_one_line(tmp_path, val_maps, split_by, message):
    paths = _maps(tmp_path, 3)
    with pytest.raises(EbsdphaseError, match=re.escape(message)):
        prepare(paths, None, "bs", tmp_path / "ds.h5", crop=8, augment=False, split_by=split_by,
                val_maps=val_maps)
    assert not (tmp_path / "ds.h5").exists()


def test_cli_val_maps(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    paths = [str(p) for p in _maps(tmp_path, 3)]
    out = tmp_path / "ds.h5"
    res = CliRunner().invoke(app, ["prepare", *paths, "--channels", "bs", "-o", str(out), "--crop", "8",
                                   "--no-augment", "--val-maps", "m2*"])
    assert res.exit_code == 0, res.output
    with open_dataset(out) as ds:
        assert {Path(p).name for p in ds.provenance("val")["map"]} == {"m2.ebsd.h5"}
    res = CliRunner().invoke(app, ["prepare", *paths, "--channels", "bs", "-o", str(tmp_path / "b.h5"),
                                   "--crop", "8", "--val-maps", "zz*"])
    assert res.exit_code != 0 and "'zz*' matches none of the 3 labelled maps" in res.output
    assert "Traceback" not in res.output


def test_cli_fill_unindexed_is_kept_in_the_recipe_and_the_command(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    paths = [str(p) for p in _maps(tmp_path, 2)]
    out = tmp_path / "ds.h5"
    res = CliRunner().invoke(app, ["prepare", *paths, "--channels", "quat", "-o", str(out), "--crop", "8",
                                   "--no-augment", "--val", "0", "--fill-unindexed"])
    assert res.exit_code == 0, res.output
    with open_dataset(out) as ds:
        assert ds.recipe == ChannelRecipe(("quat",), fill_unindexed=True)
        assert "--fill-unindexed" in ds.command
        x, _ = ds.split("train")
        # every pixel of every crop carries an orientation: none is left at 0
        assert np.all(np.linalg.norm(x[...], axis=-1) > 0.99)


def test_split_by_crop_draws_the_validation_fraction(tmp_path):
    paths = _maps(tmp_path, 2)
    s = prepare(paths, None, "bs", tmp_path / "ds.h5", crop=8, val=0.25, seed=0, split_by="crop")
    n = s["splits"]["train"]["crops"] + s["splits"]["val"]["crops"]
    assert s["splits"]["val"]["crops"] == round(0.25 * n)
    # the class balance adds up to the labelled pixels of the crops
    px = sum(sum(v["pixels"].values()) for v in s["splits"].values())
    assert px == n * 64


def test_recipe_classes_and_command_round_trip_through_the_file(tmp_path):
    pytest.importorskip("ebsdphase.crystal._kam")
    m, labels = grain_map(seed=8)
    classes = ClassSet(("ferrite", "martensite"), ((255, 0, 0), (0, 0, 255)))
    path = write_pair(tmp_path, "a", m, labels, classes)
    recipe = ChannelRecipe(("bs", "kam", "quat"), kam_order=2, kam_threshold=5.0, grain_angle=2.0)
    s = prepare([path], tmp_path, recipe, tmp_path / "ds.h5", augment=False, crop=8, val=0)
    with open_dataset(tmp_path / "ds.h5") as ds:
        assert ds.recipe == recipe
        assert ds.classes == classes
        assert ds.crop == 8
        x, y = ds.split("train")
        assert x.shape[1:] == (8, 8, 6) and x.dtype == np.float32 and y.dtype == np.uint8
        assert x.chunks == (1, 8, 8, 6) and x.compression == "gzip"
        assert "--kam-order 2" in ds.command and "--channels bs,kam,quat" in ds.command
        assert json.loads(ds.file["train/inputs"].attrs["channels"]) == recipe.channel_labels()
    assert s["command"].startswith("ebsdphase prepare")


def test_maps_without_labels_are_skipped_with_one_line(tmp_path):
    (p0,) = _maps(tmp_path, 1)
    m, _ = grain_map(seed=9)
    from ebsdphase.io import write_map

    lonely = tmp_path / "lonely.ebsd.h5"
    write_map(m, lonely)
    s = prepare([p0, lonely], None, "bs", tmp_path / "ds.h5", augment=False, crop=8, val=0)
    assert s["maps"] == [str(p0)] and list(s["failed"]) == [str(lonely)]
    assert "no labels" in s["failed"][str(lonely)] and "\n" not in s["failed"][str(lonely)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(EbsdphaseError, match="none of the maps has labels"):
            prepare([lonely], None, "bs", tmp_path / "x.h5", crop=8)


def test_bad_inputs_fail_clearly_and_leave_nothing(tmp_path):
    m, labels = grain_map(seed=10)
    path = write_pair(tmp_path, "a", m, labels)
    out = tmp_path / "ds.h5"
    with pytest.raises(EbsdphaseError, match=r"a\.ebsd\.h5.*no channel iq"):
        prepare([path], None, "bs,iq", out, augment=False, crop=8, val=0)
    write_labels(tmp_path / "a.labels.png", labels[:-1])
    with pytest.raises(EbsdphaseError, match=r"a\.labels\.png.*19 x 28 but the map is 20 x 28"):
        prepare([path], None, "bs", out, augment=False, crop=8, val=0)
    bad = labels.copy()
    bad[0, 0] = 5
    write_labels(tmp_path / "a.labels.png", bad)
    with pytest.raises(EbsdphaseError, match="label value 5"):
        prepare([path], None, "bs", out, augment=False, crop=8, val=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.ebsd.h5", "a.labels.png"]
    write_labels(tmp_path / "a.labels.png", labels)
    with pytest.raises(EbsdphaseError, match="crop"):
        prepare([path], None, "bs", out, augment=False, crop=64, val=0)


def test_open_dataset_rejects_other_files(tmp_path):
    with pytest.raises(EbsdphaseError, match="no such file"):
        open_dataset(tmp_path / "nope.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(EbsdphaseError, match="not an ebsdphase dataset"):
        open_dataset(tmp_path / "other.h5")


# -- CLI ----------------------------------------------------------------------------------------
def test_cli_end_to_end_on_two_maps(tmp_path):
    pytest.importorskip("ebsdphase.crystal._kam")
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    maps = tmp_path / "maps"
    labels = tmp_path / "labels"
    maps.mkdir()
    labels.mkdir()
    paths = []
    for i in range(2):
        m, lab = grain_map(24, 32, seed=20 + i)
        from ebsdphase.io import write_map

        write_map(m, maps / f"m{i}.ebsd.h5")
        write_labels(labels / f"m{i}.labels.png", lab)
        paths.append(str(maps / f"m{i}.ebsd.h5"))
    out = tmp_path / "ds.h5"
    res = CliRunner().invoke(app, ["prepare", *paths, "--labels", str(labels), "--channels", "bs,kam",
                                   "-o", str(out), "--crop", "16", "--val", "0.5", "--split-by", "map"])
    assert res.exit_code == 0, res.output
    assert "train" in res.output and "val" in res.output and "martensite" in res.output
    with open_dataset(out) as ds:
        assert ds.recipe.names == ("bs", "kam")
        n_train = ds.split("train")[0].shape[0]
        n_val = ds.split("val")[0].shape[0]
        assert n_train > 0 and n_val > 0
        assert set(ds.provenance("train")["map"]).isdisjoint(ds.provenance("val")["map"])

    res = CliRunner().invoke(app, ["prepare", *paths, "--labels", str(labels), "--channels", "bs,iq",
                                   "-o", str(tmp_path / "bad.h5"), "--crop", "16"])
    assert res.exit_code == 2
    assert "no channel iq" in res.output
    assert not (tmp_path / "bad.h5").exists()


def test_streamed_augmentations_equal_the_direct_ones():
    from ebsdphase.dataset.augment import augmented

    m, labels = grain_map(21, 27, seed=11)
    seen = []
    for aug, out, lab in augmented(m, labels):
        direct = aug.apply(m)
        seen.append(aug)
        np.testing.assert_array_equal(out.quaternions, direct.quaternions)
        np.testing.assert_array_equal(out.channels["bs"], direct.channels["bs"])
        np.testing.assert_array_equal(lab, aug.apply_grid(labels))
        assert out.step == direct.step and out.metadata["augmentation"] == aug.name
    assert tuple(seen) == AUGMENTATIONS
    assert [a for a, _, _ in augmented(m, labels, enabled=False)] == [IDENTITY]


# -- a real map ---------------------------------------------------------------------------------
def test_real_trip_steel_map_augments_and_prepares(tmp_path):
    from conftest import shared_file

    from ebsdphase.crystal import kam
    from ebsdphase.io import read_map

    path = shared_file("trip_steel_ctf", "test_ctfFile.ctf")
    m = read_map(path)
    for aug in ROTATIONS[1:]:
        np.testing.assert_allclose(kam(aug.apply(m), 1, 3.0), aug.rotate_grid(kam(m, 1, 3.0)), atol=1e-3)
    # labels from the indexed phase (BCC 0, FCC 1, not indexed 255): enough for a full run
    labels = np.where(m.phase_id == 2, 0, np.where(m.phase_id == 1, 1, 255)).astype(np.uint8)
    write_labels(tmp_path / "test_ctfFile.labels.png", labels)
    s = prepare([path], tmp_path, "bs,kam,quat", tmp_path / "ds.h5", crop=32, val=0.3, split_by="crop")
    with open_dataset(tmp_path / "ds.h5") as ds:
        x, y = ds.split("train")
        assert x.shape[-1] == 6 and np.isfinite(x[()]).all()
        assert x.shape[0] == s["splits"]["train"]["crops"] > 0
        # quaternion channels are zero exactly where the crop's pixels are not indexed
        prov = ds.provenance("train")
        i = int(np.flatnonzero(prov["augmentation"] == "identity")[0])
        r, c = prov["row"][i], prov["col"][i]
        unindexed = ~m.indexed[r:r + 32, c:c + 32]
        assert np.all(x[i][..., 2:][unindexed] == 0)
        assert np.all(np.abs(np.linalg.norm(x[i][..., 2:][~unindexed], axis=-1) - 1) < 1e-4)


def test_cli_takes_a_folder_and_reports_a_map_without_labels_like_every_command(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app
    from ebsdphase.io import write_map

    maps = tmp_path / "maps"
    maps.mkdir()
    for i in range(2):
        m, lab = grain_map(24, 32, seed=30 + i)
        write_map(m, maps / f"m{i}.ebsd.h5")
        write_labels(maps / f"m{i}.labels.png", lab)
    m, _ = grain_map(24, 32, seed=40)
    write_map(m, maps / "unlabelled.ebsd.h5")
    out = tmp_path / "ds.h5"
    res = CliRunner().invoke(app, ["prepare", str(maps), "--channels", "bs", "--output", str(out),
                                   "--crop", "16", "--val", "0.5"])
    assert res.exit_code == 3, res.output  # some maps failed, the others are in the dataset
    assert "error:" in res.output and "unlabelled.ebsd.h5: no labels" in res.output
    with open_dataset(out) as ds:
        assert sorted({Path(p).name for p in list(ds.provenance("train")["map"]) + list(ds.provenance("val")["map"])}) \
            == ["m0.ebsd.h5", "m1.ebsd.h5"]


def test_cli_out_is_a_hidden_alias_of_output(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    paths = [str(p) for p in _maps(tmp_path, 2)]
    runner = CliRunner()
    assert "--out " not in runner.invoke(app, ["prepare", "--help"]).output
    res = runner.invoke(app, ["prepare", *paths, "--channels", "bs", "--out", str(tmp_path / "a.h5"),
                              "--crop", "8", "--val", "0.5"])
    assert res.exit_code == 0, res.output
    assert "--out is now --output" in res.output and (tmp_path / "a.h5").exists()
    res = runner.invoke(app, ["prepare", *paths, "--channels", "bs", "--crop", "8"])
    assert res.exit_code == 2 and "missing option --output" in res.output


def test_library_errors_name_parameters_and_the_cli_names_flags(tmp_path):
    from typer.testing import CliRunner

    from ebsdphase.cli.main import app

    paths = [str(p) for p in _maps(tmp_path, 2)]
    with pytest.raises(EbsdphaseError, match=r"^crop=1: must be at least 2"):
        prepare(paths, None, "bs", tmp_path / "x.h5", crop=1)
    res = CliRunner().invoke(app, ["prepare", *paths, "--channels", "bs", "-o", str(tmp_path / "x.h5"),
                                   "--crop", "1"])
    assert res.exit_code == 2 and "error: --crop 1: must be at least 2" in res.output
    res = CliRunner().invoke(app, ["prepare", *paths, "--channels", "bs", "-o", str(tmp_path / "x.h5"),
                                   "--split-by", "grain"])
    assert res.exit_code == 2 and "--split-by 'grain': must be one of" in res.output


def test_one_labelled_map_is_split_in_blocks_with_no_labelled_pixel_on_both_sides(tmp_path):
    m, labels = grain_map(100, 117, n_grains=30, seed=5)
    path = write_pair(tmp_path, "one", m, labels)
    s = prepare([path], None, "bs,kam", tmp_path / "ds.h5")  # the defaults: augmentation, auto crop
    assert s["split_by"] == "block" and s["crop"] == 32 and "one labelled map" in s["split_note"]
    with open_dataset(tmp_path / "ds.h5") as ds:
        assert ds.split("train")[0].shape[0] > 0 and ds.split("val")[0].shape[0] > 0
        seen = {}
        for name in ("train", "val"):
            labels_ds = ds.split(name)[1][()]
            cover = np.zeros(m.shape, bool)
            for crop_labels, prov in zip(labels_ds, ds.provenance(name)):
                if prov["augmentation"] != "identity":
                    continue
                r, c = int(prov["row"]), int(prov["col"])
                window = cover[r:r + 32, c:c + 32]
                window |= crop_labels != 255
            seen[name] = cover
        assert seen["train"].any() and seen["val"].any()
        assert not (seen["train"] & seen["val"]).any()  # no labelled pixel on both sides
        # every validation label sits on a validation block, i.e. off the training labels
        val_share = seen["val"].mean()
        assert 0.05 < val_share < 0.4


def test_auto_crop_keeps_the_paper_s_224_for_big_maps_and_shrinks_for_small_ones():
    from ebsdphase.dataset.prepare import auto_crop

    assert auto_crop([(856, 1136)]) == 224
    assert auto_crop([(300, 400), (856, 1136)]) == 128
    assert auto_crop([(60, 117)]) == 32
    with pytest.raises(EbsdphaseError, match="smaller than the smallest crop"):
        auto_crop([(20, 400)])


def test_block_masks_are_whole_blocks_and_depend_on_the_seed():
    from ebsdphase.dataset.split import block_mask

    a = block_mask((100, 117), 32, 0.2, seed=0)
    n_blocks = 4 * 4
    assert 1 <= round(0.2 * n_blocks) == len({(r // 32, c // 32) for r, c in zip(*np.nonzero(a))})
    assert not np.array_equal(a, block_mask((100, 117), 32, 0.2, seed=1))
    with pytest.raises(EbsdphaseError, match="single 32 px block"):
        block_mask((20, 30), 32, 0.2, seed=0)
