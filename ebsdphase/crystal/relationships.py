"""Orientation relationships between austenite (fcc) and ferrite/martensite (bcc).

Kurdjumov-Sachs (KS): {111}γ ∥ {011}α and <-101>γ ∥ <-1-11>α. Applying the 24 rotations
of the parent's cubic group to one KS correspondence gives the 24 KS variants; grouped by
the {111}γ plane they keep parallel to {011}α they form 4 packets of 6 variants (Morito et
al., Acta Mater. 51 (2003) 1789; Kitahara et al., Acta Mater. 54 (2006) 1279).

Convention as in :mod:`ebsdphase.core.euler`: an orientation q is the sample -> crystal
rotation (v_c = q v_s q*). For a parent austenite orientation q_γ the daughter orientations
are ``k_i * q_γ`` where ``k_i`` (returned by :func:`ks_variants`) takes austenite crystal
coordinates to the variant's bcc crystal coordinates.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Misorientation angle of the KS relationship itself (degrees), e.g. Morito 2003 Table 1.
KS_ANGLE = 42.85


def _frame(n: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Orthonormal frame (rows) from a plane normal and an in-plane direction."""
    n = n / np.linalg.norm(n)
    d = d / np.linalg.norm(d)
    return np.stack([n, d, np.cross(n, d)])


def ks_matrix() -> np.ndarray:
    """The KS correspondence as a 3x3 matrix taking γ crystal coordinates to α coordinates.

    (111)γ ∥ (011)α and [-101]γ ∥ [-1-11]α: the matrix sends the γ frame built on
    ((111), [-101]) onto the α frame built on ((011), [-1-11]).
    """
    f_gamma = _frame(np.array([1.0, 1.0, 1.0]), np.array([-1.0, 0.0, 1.0]))
    f_alpha = _frame(np.array([0.0, 1.0, 1.0]), np.array([-1.0, -1.0, 1.0]))
    return f_alpha.T @ f_gamma


def _cubic_matrices() -> np.ndarray:
    """The 24 proper rotations of the cube as signed permutation matrices (24, 3, 3)."""
    import itertools

    mats = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) > 0:
                mats.append(m)
    return np.array(mats)


def _matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Passive rotation matrices (n, 3, 3) (v_c = M v_s) -> quaternions (n, 4), w >= 0."""
    from scipy.spatial.transform import Rotation

    # q v q* acts on components like the matrix itself, so scipy's quaternion of M is ours
    # once reordered to scalar first
    q = Rotation.from_matrix(m).as_quat()[:, [3, 0, 1, 2]]
    return q * np.where(q[:, :1] < 0, -1.0, 1.0)


@lru_cache(maxsize=1)
def _variants() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ebsdphase.crystal._disorientation import disorientation

    t = ks_matrix()
    sym = _cubic_matrices()
    mats = t @ sym  # variant i: first the parent symmetry S_i, then the correspondence
    # The γ plane kept parallel to (011)α by variant i: M_i n = (011)/sqrt2.
    planes = np.einsum("kji,j->ki", mats, np.array([0.0, 1.0, 1.0]) / np.sqrt(2.0))
    planes *= np.sign(planes.sum(axis=1, keepdims=True) + 1e-9 * planes[:, :1])
    canon = np.round(planes * np.sqrt(3.0)).astype(int)
    keys = [tuple(p) for p in canon]
    plane_list = sorted(set(keys), reverse=True)
    quats = _matrix_to_quat(mats)
    # Order: packet by packet; inside a packet pair each variant with its ~10.5 deg partner
    # (V1/V4 in Morito's numbering) so that variants 2j, 2j+1 form one sub-block pair.
    order: list[int] = []
    for plane in plane_list:
        members = [i for i, k in enumerate(keys) if k == plane]
        left = list(members)
        while left:
            a = left.pop(0)
            ang = disorientation(quats[a][None], quats[left])
            b = left.pop(int(np.argmin(ang)))
            order += [a, b]
    order_arr = np.array(order)
    packet = np.array([plane_list.index(keys[i]) for i in order_arr])
    plane_normals = np.array(plane_list, dtype=np.float64) / np.sqrt(3.0)
    return quats[order_arr], packet, plane_normals


def ks_variants() -> np.ndarray:
    """The 24 KS variants as quaternions (24, 4) (γ crystal -> α crystal).

    Ordered by packet (variants 6p..6p+5 share the {111}γ plane ``ks_planes()[p]``); within a
    packet, variants 2j and 2j+1 are the low-misorientation (~10.5 deg) sub-block pair.
    """
    return _variants()[0].copy()


def ks_packets() -> np.ndarray:
    """(24,) packet index (0..3) of each variant of :func:`ks_variants`."""
    return _variants()[1].copy()


def ks_planes() -> np.ndarray:
    """(4, 3) unit normals of the {111}γ planes (parent crystal frame), one per packet."""
    return _variants()[2].copy()


def variant_orientations(parent: np.ndarray) -> np.ndarray:
    """All 24 KS daughter orientations of parent austenite orientations.

    ``parent`` (..., 4) sample -> γ crystal quaternions; returns (..., 24, 4) sample -> α
    crystal quaternions with w >= 0, in :func:`ks_variants` order.
    """
    from ebsdphase.crystal.quaternion import qmul

    p = np.asarray(parent, dtype=np.float64)[..., None, :]
    q = qmul(ks_variants(), p)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)
