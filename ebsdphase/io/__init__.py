"""Reading and writing EBSD maps: one module per format behind ``read_map``/``write_map``.

A format module registers itself with :func:`ebsdphase.io.registry.reader` /
:func:`~ebsdphase.io.registry.writer`; this package imports the built-in ones.
"""

from ebsdphase.io.registry import read_map, write_map, formats

__all__ = ["read_map", "write_map", "formats"]
