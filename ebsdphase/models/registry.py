"""The architecture registry: every network ebsdphase can train or load, built-in or plugin.

Architectures are found through the entry-point group ``ebsdphase.architectures``. The
built-in U-Net is registered the same way, in ebsdphase's own ``pyproject.toml``::

    [project.entry-points."ebsdphase.architectures"]
    unet = "ebsdphase.models.unet:ARCHITECTURE"

A lab adds its own network from its own package with one such line pointing at an
:class:`Architecture` object (see ``examples/plugin/``). A plugin that cannot be imported
or is malformed is reported as one warning line and skipped, so it never breaks the
command line for everybody else.

Nothing here imports keras: listing architectures stays fast.
"""

from __future__ import annotations

import inspect
import threading
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

from ebsdphase.core.errors import EbsdphaseError, EbsdphaseWarning

GROUP = "ebsdphase.architectures"


@dataclass(frozen=True)
class Param:
    """One architecture parameter: its default, type, help text and allowed values."""

    default: Any
    help: str = ""
    choices: tuple | None = None
    type: type | None = None  # inferred from ``default`` when omitted
    #: inclusive bounds for numbers: a card with ``filters: 1000000`` is refused before
    #: anything is built (XLA would abort the process allocating it)
    minimum: float | None = None
    maximum: float | None = None

    @property
    def kind(self) -> type:
        return self.type or type(self.default)

    def coerce(self, name: str, value: Any) -> Any:
        """``value`` (possibly a string from ``--param k=v``) as this parameter's type."""
        kind = self.kind
        try:
            if isinstance(value, str) and kind is bool:
                low = value.strip().lower()
                if low not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                out: Any = low in ("1", "true", "yes")
            elif kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            else:
                out = kind(value)
        except (TypeError, ValueError):
            raise EbsdphaseError(f"parameter {name!r} must be {kind.__name__}, got {value!r}") from None
        if self.choices is not None and out not in self.choices:
            raise EbsdphaseError(f"parameter {name!r} must be one of {list(self.choices)}, got {out!r}")
        if isinstance(out, (int, float)) and not isinstance(out, bool):
            if out != out or (self.minimum is not None and out < self.minimum) or \
                    (self.maximum is not None and out > self.maximum):
                raise EbsdphaseError(f"parameter {name!r} must be in [{self.minimum}, {self.maximum}], got {out!r}")
        return out


@dataclass(frozen=True)
class Architecture:
    """A network family: how to build it and which parameters it takes.

    ``build(input_channels, n_classes, **params)`` returns an uncompiled ``keras.Model``
    whose input is ``(None, None, input_channels)`` (any map size that is a multiple of
    :meth:`multiple`) and whose output is ``(rows, cols, n_classes)`` softmax probabilities.
    ``pooling_steps(params)`` says how many 2x down-samplings the network does.
    """

    name: str
    build: Callable[..., Any]
    params: dict[str, Param] = field(default_factory=dict)
    pooling_steps: Callable[[dict], int] = lambda params: 0
    description: str = ""
    validate: Callable[[dict], None] | None = None  # extra checks on resolved params
    package: str = ""  # filled in by the registry from the entry point's distribution

    def defaults(self) -> dict:
        return {k: p.default for k, p in self.params.items()}

    def resolve(self, params: dict | None = None) -> dict:
        """Defaults overlaid with ``params`` (coerced to each parameter's type).

        Unknown names are an error that lists the known ones.
        """
        out = self.defaults()
        if params is not None and not isinstance(params, dict):
            raise EbsdphaseError(f"architecture {self.name!r}: parameters must be a mapping of names to values, "
                                 f"got {type(params).__name__}")
        for key, value in (params or {}).items():
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise EbsdphaseError(f"architecture {self.name!r} has no parameter {key!r} (known: {known})")
            out[key] = self.params[key].coerce(key, value)
        if self.validate is not None:
            self.validate(out)
        return out

    def multiple(self, params: dict | None = None) -> int:
        """Map sizes the network accepts are multiples of this (2 ** pooling steps)."""
        return 2 ** int(self.pooling_steps(self.resolve(params)))

    def create(self, input_channels: int, n_classes: int, params: dict | None = None):
        """Build the keras model with resolved parameters."""
        return self.build(int(input_channels), int(n_classes), **self.resolve(params))


def parse_params(items: list[str] | None) -> dict[str, str]:
    """``["depth=7", "dropout=0.1"]`` -> ``{"depth": "7", "dropout": "0.1"}`` (typed later)."""
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise EbsdphaseError(f"an architecture parameter is NAME=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


# -- the registry ------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[str, Architecture] | None = None
_broken: list[str] = []
_extra: dict[str, Architecture] = {}


def _check(obj: Any, ep_name: str) -> Architecture:
    if callable(obj) and not isinstance(obj, Architecture):
        obj = obj()  # a factory returning the Architecture is accepted too
    if not isinstance(obj, Architecture):
        raise TypeError(f"expected an ebsdphase.models.registry.Architecture, got {type(obj).__name__}")
    try:
        inspect.signature(obj.build).bind(1, 2, **obj.defaults())
    except TypeError as exc:
        raise TypeError(f"build(input_channels, n_classes, **params) does not accept its defaults: {exc}") from None
    for key, p in obj.params.items():
        if not isinstance(p, Param):
            raise TypeError(f"parameter {key!r} is not a Param")
    if obj.multiple() < 1:
        raise TypeError("pooling_steps(params) must be a non-negative integer")
    return obj


def _discover() -> tuple[dict[str, Architecture], list[str]]:
    found: dict[str, Architecture] = {}
    broken: list[str] = []
    for ep in entry_points(group=GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
        try:
            arch = _check(ep.load(), ep.name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin must never break the CLI
            broken.append(f"architecture plugin {ep.name!r} ({ep.value}, from {dist}) skipped: "
                          f"{type(exc).__name__}: {exc}")
            continue
        if arch.name != ep.name:
            arch = _replace(arch, name=ep.name)
        if ep.name in found:
            broken.append(f"architecture plugin {ep.name!r} from {dist} skipped: the name is already "
                          f"provided by {found[ep.name].package}")
            continue
        found[ep.name] = _replace(arch, package=dist)
    if "unet" not in found:
        # A source tree whose install metadata predates the entry point: the built-in must
        # still work (re-running `pip install -e .` makes this branch unnecessary).
        from ebsdphase.models.unet import ARCHITECTURE

        found["unet"] = _replace(ARCHITECTURE, package="ebsdphase")
    return found, broken


def _replace(arch: Architecture, **changes: Any) -> Architecture:
    from dataclasses import replace

    return replace(arch, **changes)


def _ensure_loaded() -> dict[str, Architecture]:
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded, broken = _discover()
            _broken[:] = broken
            for line in broken:
                warnings.warn(line, EbsdphaseWarning, stacklevel=3)
        return {**_loaded, **_extra}


def architectures() -> dict[str, Architecture]:
    """Every usable architecture by name (broken plugins are skipped with a warning)."""
    return dict(sorted(_ensure_loaded().items()))


def broken_plugins() -> list[str]:
    """One line per plugin that failed to load (empty when all loaded)."""
    _ensure_loaded()
    return list(_broken)


def get_architecture(name: str) -> Architecture:
    """The architecture called ``name``; a clear error listing the known ones otherwise."""
    archs = _ensure_loaded()
    if name not in archs:
        known = ", ".join(sorted(archs)) or "none"
        raise EbsdphaseError(f"unknown architecture {name!r} (known: {known}); plugins add more "
                             f"through the {GROUP!r} entry point")
    return archs[name]


def register_architecture(arch: Architecture, package: str = "(runtime)") -> None:
    """Register an architecture in this process only (notebooks, tests)."""
    _extra[arch.name] = _replace(_check(arch, arch.name), package=package)


def reload() -> None:
    """Forget what was discovered (after installing a plugin in a running process)."""
    global _loaded
    with _lock:
        _loaded = None
        _broken.clear()
