"""Synthetic dual-phase (ferrite + lath martensite) EBSD maps with exact labels.

``generate(preset, seed, shape, step) -> (EBSDMap, labels)``; see :mod:`.generate`.
"""

from ebsdphase.synth.generate import SynthResult, generate, synthesize, write_synthetic
from ebsdphase.synth.presets import PRESETS, Preset, get_preset

__all__ = ["PRESETS", "Preset", "SynthResult", "generate", "get_preset", "synthesize", "write_synthetic"]
