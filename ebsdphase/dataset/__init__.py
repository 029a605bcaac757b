"""Training datasets: augmentation (grid + orientations), crops, splits and the HDF5 file.

Submodules: :mod:`~ebsdphase.dataset.augment`, :mod:`~ebsdphase.dataset.crops`,
:mod:`~ebsdphase.dataset.split`, :mod:`~ebsdphase.dataset.io` (``open_dataset``) and
:mod:`~ebsdphase.dataset.prepare` (``prepare``). Nothing heavy is imported here.
"""
