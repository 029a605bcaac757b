"""The cubic IPF-Z key: the corners of the standard triangle and the symmetry."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from ebsdphase.crystal.ipf import ipf_colours, key_colours


def test_the_corners_of_the_standard_triangle_are_red_green_blue():
    rgb = key_colours(np.array([[0, 0, 1.0], [1, 0, 1.0], [1, 1, 1.0]]))
    np.testing.assert_allclose(rgb, np.eye(3), atol=1e-6)


def test_symmetry_equivalent_directions_share_a_colour():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((50, 3))
    perm = v[:, [2, 0, 1]] * np.array([-1, 1, -1])  # a cubic symmetry: permutation and signs
    np.testing.assert_allclose(key_colours(v), key_colours(perm), atol=1e-6)


def test_an_orientation_with_001_along_z_is_red_and_one_with_111_along_z_is_blue():
    # q maps sample to crystal: the identity puts crystal [001] along sample Z
    identity = np.array([[[1.0, 0, 0, 0]]])
    np.testing.assert_allclose(ipf_colours(identity)[0, 0], [1, 0, 0], atol=1e-6)
    # a crystal-frame rotation taking sample Z onto [111] (scipy, an independent reference)
    r = Rotation.align_vectors([[1, 1, 1]], [[0, 0, 1]])[0]
    xyzw = r.as_quat()
    q = np.array([[[xyzw[3], *xyzw[:3]]]])
    np.testing.assert_allclose(ipf_colours(q)[0, 0], [0, 0, 1], atol=1e-6)
    assert ipf_colours(np.zeros((1, 1, 4)))[0, 0].tolist() == [0, 0, 0]  # not indexed: black
