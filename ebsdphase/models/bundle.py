"""Model bundles: the one format shared by train, predict, evaluate and the pretrained registry.

A bundle is a folder holding ``<name>.weights.h5`` (the network's weights, saved from an
uncompiled model so no optimizer state travels: the file is a third of the size and loads
under every Keras backend) and ``<name>.json``, the card::

    {"name", "architecture", "params", "input_channels", "n_classes",
     "recipe": ChannelRecipe.to_dict(), "classes": ClassSet.to_dict(),
     "provenance": {...}, "metrics": {...}, "ebsdphase_version"}

Loading rebuilds the network through the architecture registry (so plugin networks load
like the built-in U-Net) and then reads the weights.
"""

from __future__ import annotations

import json
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ebsdphase.core.atomic import write_text_atomic
from ebsdphase.core.errors import EbsdphaseError

WEIGHTS_SUFFIX = ".weights.h5"
CARD_SUFFIX = ".json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_REQUIRED = ("name", "architecture", "params", "recipe", "classes")
#: what a card's "smooth" may ask of ``predict``: "grains" (each grain one phase) or "soft"
#: (each pixel's probabilities averaged with its grain's mean)
SMOOTH_MODES = ("grains", "soft")


class Bundle:
    """A trained model: card + weights; the keras model is built on first use."""

    def __init__(self, card_path: str | os.PathLike, card: dict):
        self.card_path = Path(card_path)
        self.card = card
        self.name: str = card["name"]
        self.folder = self.card_path.parent
        self.weights_path = self.folder / f"{self.name}{WEIGHTS_SUFFIX}"

    def __repr__(self) -> str:
        return f"Bundle({self.name!r}, architecture={self.architecture!r}, folder={str(self.folder)!r})"

    @property
    def architecture(self) -> str:
        return self.card["architecture"]

    @property
    def params(self) -> dict:
        return dict(self.card["params"])

    @cached_property
    def recipe(self):
        """The :class:`~ebsdphase.features.ChannelRecipe` the model was trained with."""
        from ebsdphase.features import ChannelRecipe

        return ChannelRecipe.from_dict(self.card["recipe"])

    @cached_property
    def classes(self):
        from ebsdphase.core.classes import ClassSet

        return ClassSet.from_dict(self.card["classes"])

    @property
    def input_channels(self) -> int:
        if "input_channels" in self.card:
            return int(self.card["input_channels"])
        return int(self.recipe.n_channels)

    @property
    def n_classes(self) -> int:
        return int(self.card.get("n_classes", len(self.card["classes"]["classes"])))

    @cached_property
    def digest(self) -> str:
        """sha256 of the card and the weights (hex, 16 digits): two bundles with the same
        digest give the same answers, whatever their names or folders."""
        import hashlib

        h = hashlib.sha256(json.dumps(self.card, sort_keys=True, default=str).encode())
        try:
            with open(self.weights_path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
        except OSError as exc:
            raise EbsdphaseError(f"{self.weights_path}: cannot read the weights of model {self.name!r} "
                                 f"({exc.strerror})") from None
        return h.hexdigest()[:16]

    @property
    def training_ranges(self) -> dict:
        """{statistic: [min, max]} of the maps the model was trained on ({} for old cards)."""
        return dict(self.card.get("training_ranges") or {})

    def outside_training(self, ebsd_map) -> list[str]:
        """Why ``ebsd_map`` lies outside what the model saw or what it answers reliably
        (empty: inside, or unknown)."""
        from ebsdphase.models import domain

        reasons = domain.too_small(ebsd_map, self.min_extent_um)
        if self.training_ranges:
            stats = domain.map_stats(ebsd_map, self.recipe)
            # the phases' names only for a map that has some (one more pass over its phase ids)
            details = ({"other_phase_fraction": domain.other_phase_names(ebsd_map)}
                       if stats.get("other_phase_fraction") else None)
            reasons += domain.outside(stats, self.training_ranges, details=details)
        return reasons

    @cached_property
    def sets_other_phases_apart(self) -> bool:
        """Whether ``predict`` sets apart the pixels of a map's phases other than body-centred
        iron (fractions over the iron alone, grey in pictures): for a model of bcc iron only,
        none of whose classes names another phase (austenite) and whose card does not say it
        was trained on maps with another phase."""
        from ebsdphase.core.ebsdmap import Phase
        from ebsdphase.core.iron import is_bcc_iron

        if any(is_bcc_iron(Phase(n, laue="")) is False for n in self.classes.names):
            return False
        seen = self.training_ranges.get("other_phase_fraction")
        return not (seen and float(seen[1]) >= 0.01)

    @property
    def min_extent_um(self) -> float | None:
        """The smallest field of view (shorter side, um) whose answers agree with those of a
        larger map, measured on validation crops (``scripts/extent_validation.py``); None:
        not measured."""
        value = self.card.get("min_extent_um")
        return float(value) if value else None

    @property
    def finest_step_um(self) -> float | None:
        """Maps with a finer step are predicted on sub-lattices at least this coarse
        (:func:`ebsdphase.prediction.engine.sublattice_factor`); None: always whole."""
        value = self.card.get("finest_step_um")
        return float(value) if value else None

    @property
    def smooth(self) -> str | None:
        """The post-processing the model's answers are meant for (one of :data:`SMOOTH_MODES`),
        or None."""
        value = self.card.get("smooth")
        return value if value in SMOOTH_MODES else None

    @property
    def metrics(self) -> dict:
        return dict(self.card.get("metrics") or {})

    @property
    def provenance(self) -> dict:
        return dict(self.card.get("provenance") or {})

    @cached_property
    def multiple(self) -> int:
        """Inputs must be padded to a multiple of this (2 ** pooling steps)."""
        from ebsdphase.models.registry import get_architecture

        return get_architecture(self.architecture).multiple(self.params)

    @cached_property
    def model(self):
        """The keras model with the bundle's weights (built through the registry)."""
        import ebsdphase.models  # noqa: F401 - chooses the keras backend before keras loads
        from ebsdphase.models.registry import get_architecture

        arch = get_architecture(self.architecture)
        model = arch.create(self.input_channels, self.n_classes, self.params)
        if not self.weights_path.exists():
            raise EbsdphaseError(f"{self.weights_path}: weights file missing for model {self.name!r}")
        try:
            model.load_weights(self.weights_path)
        except Exception as exc:  # noqa: BLE001 - h5py/keras raise many types for bad files
            raise EbsdphaseError(f"{self.weights_path}: cannot load weights into {self.architecture} "
                                 f"{self.params} ({type(exc).__name__}: {exc})") from None
        return model

    def check_map(self, ebsd_map) -> None:
        """Refuse a map that lacks a channel the model was trained on, with a clear message."""
        missing = self.recipe.missing(ebsd_map)
        if missing:
            have = ", ".join(sorted(getattr(ebsd_map, "channels", {}) or {})) or "none"
            source = getattr(ebsd_map, "source", None) or "map"
            raise EbsdphaseError(
                f"{source}: model {self.name!r} needs channel(s) {', '.join(missing)} that the map "
                f"cannot provide (map channels: {have}); use a model trained on channels it has")

    def summary(self) -> dict:
        """What `ebsdphase models info` shows."""
        return {
            "name": self.name,
            "folder": str(self.folder),
            "architecture": self.architecture,
            "params": self.params,
            "input_channels": self.input_channels,
            "channels": list(self.card["recipe"].get("names", [])),
            "fill_unindexed": self.recipe.fill_unindexed,
            "classes": list(self.card["classes"]["classes"]),
            "metrics": self.metrics,
            "training_ranges": self.training_ranges,
            "finest_step_um": self.finest_step_um,
            "min_extent_um": self.min_extent_um,
            "smooth": self.smooth,
            "provenance": self.provenance,
            "ebsdphase_version": self.card.get("ebsdphase_version"),
        }


def _read_card(path: Path) -> dict:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EbsdphaseError(f"{path}: not a readable model card ({exc})") from None
    if not isinstance(card, dict):
        raise EbsdphaseError(f"{path}: not a model card (expected a JSON object)")
    missing = [k for k in _REQUIRED if k not in card]
    if missing:
        raise EbsdphaseError(f"{path}: model card lacks {', '.join(missing)}")
    check_card(card, path)
    weights = path.parent / f"{card['name']}{WEIGHTS_SUFFIX}"
    if not weights.exists():
        raise EbsdphaseError(f"{path}: its weights {weights.name} are missing")
    return card


def check_card(card: dict, path: Path) -> None:
    """The card's schema, before any weight is loaded: a plain file name, an architecture
    that exists with parameters of the right types in sane ranges, a valid recipe, and as
    many class names as the network has outputs. Raises one-line :class:`EbsdphaseError`."""
    from ebsdphase.features import ChannelRecipe
    from ebsdphase.models.registry import get_architecture

    name = card["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        # the name becomes a file name beside the card: never a path
        raise EbsdphaseError(f"{path}: model name {name!r} is not a plain file name (letters, digits, . _ -)")
    if not isinstance(card["architecture"], str):
        raise EbsdphaseError(f"{path}: architecture must be a name, got {card['architecture']!r}")
    if not isinstance(card["params"], dict):
        raise EbsdphaseError(f"{path}: params must be a JSON object, got {card['params']!r}")
    try:
        get_architecture(card["architecture"]).resolve(card["params"])
        if not isinstance(card["recipe"], dict):
            raise EbsdphaseError(f"recipe must be a JSON object, got {card['recipe']!r}")
        ChannelRecipe.from_dict(card["recipe"])
    except EbsdphaseError as exc:
        raise EbsdphaseError(f"{path}: {exc}") from None
    classes = card["classes"]
    names = classes.get("classes") if isinstance(classes, dict) else None
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) and n for n in names):
        raise EbsdphaseError(f"{path}: classes must list at least two class names, got {classes!r}")
    extent = card.get("min_extent_um")
    if extent is not None and (isinstance(extent, bool) or not isinstance(extent, (int, float))
                               or not 0 < extent < 1e6):
        raise EbsdphaseError(f"{path}: min_extent_um must be a positive length in um, got {extent!r}")
    n_out = card.get("n_classes", len(names))
    if not isinstance(n_out, int) or n_out != len(names):
        raise EbsdphaseError(f"{path}: {len(names)} class names for a network with {n_out} outputs")


def _cards_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(f"*{CARD_SUFFIX}")
                  if (folder / (p.name[: -len(CARD_SUFFIX)] + WEIGHTS_SUFFIX)).exists())


def load_bundle(name_or_path: Any) -> Bundle:
    """A bundle from a folder, a card (``.json``) or weights (``.weights.h5``) path, or the
    name of a pretrained model (fetched and checked against its sha256)."""
    if isinstance(name_or_path, Bundle):
        return name_or_path
    p = Path(name_or_path)
    if p.is_dir():
        cards = _cards_in(p)
        if not cards:
            raise EbsdphaseError(f"{p}: no model bundle here (expects NAME.json + NAME{WEIGHTS_SUFFIX})")
        if len(cards) > 1:
            raise EbsdphaseError(f"{p}: several model bundles ({', '.join(c.stem for c in cards)}); "
                                 "give the .json card of the one to use")
        return Bundle(cards[0], _read_card(cards[0]))
    if p.is_file():
        if p.name.endswith(WEIGHTS_SUFFIX):
            p = p.with_name(p.name[: -len(WEIGHTS_SUFFIX)] + CARD_SUFFIX)
        return Bundle(p, _read_card(p))
    text = str(name_or_path)
    if os.sep in text or "/" in text or text.endswith((CARD_SUFFIX, WEIGHTS_SUFFIX)):
        raise EbsdphaseError(f"{text}: no such model file or folder")
    from ebsdphase.models.pretrained import fetch_pretrained

    folder = fetch_pretrained(text)
    card = folder / f"{text}{CARD_SUFFIX}"
    return Bundle(card, _read_card(card))


def _plain(obj: Any) -> Any:
    to_dict = getattr(obj, "to_dict", None)
    return to_dict() if callable(to_dict) else obj


def save_bundle(model, folder, name: str, architecture: str, params: dict | None, recipe, classes,
                provenance: dict | None = None, metrics: dict | None = None,
                training_ranges: dict | None = None, smooth: str | None = None) -> Path:
    """Write ``<folder>/<name>.weights.h5`` and ``<folder>/<name>.json``; return the card path.

    ``smooth`` (one of :data:`SMOOTH_MODES` or None) is how the model's pixel answers are meant to be post-
    processed; ``predict`` applies it unless told otherwise.

    ``recipe`` and ``classes`` may be a ChannelRecipe / ClassSet or their dicts. The weights
    are copied into a fresh, uncompiled copy of the network before saving, so the file
    carries no optimizer state. Both files are written atomically, weights first, so a card
    on disk always has complete weights.
    """
    import ebsdphase
    from ebsdphase.models.registry import get_architecture

    if not _NAME.match(name):
        raise EbsdphaseError(f"model name {name!r} must be letters, digits, '.', '_' or '-'")
    arch = get_architecture(architecture)
    resolved = arch.resolve(params)
    input_channels = int(model.inputs[0].shape[-1])
    n_classes = int(model.outputs[0].shape[-1])
    recipe_d, classes_d = _plain(recipe), _plain(classes)
    if len(classes_d["classes"]) != n_classes:
        raise EbsdphaseError(f"model {name!r} has {n_classes} outputs but {len(classes_d['classes'])} class names")

    if getattr(model, "optimizer", None) is not None:
        fresh = arch.create(input_channels, n_classes, resolved)
        fresh.set_weights(model.get_weights())
        model = fresh

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{name}{WEIGHTS_SUFFIX}"
    # keras insists on the .weights.h5 ending, so the temporary name keeps it
    tmp = folder / f".{name}.{os.getpid()}.part{WEIGHTS_SUFFIX}"
    try:
        model.save_weights(tmp)
        os.replace(tmp, weights)
    finally:
        tmp.unlink(missing_ok=True)

    import keras

    card = {
        "name": name,
        "architecture": architecture,
        "params": resolved,
        "input_channels": input_channels,
        "n_classes": n_classes,
        "recipe": recipe_d,
        "classes": classes_d,
        "provenance": {"keras_backend": keras.backend.backend(), "keras_version": keras.__version__,
                       **(provenance or {})},
        "metrics": metrics or {},
        "ebsdphase_version": ebsdphase.__version__,
    }
    if smooth not in (None, "none"):
        card["smooth"] = smooth
    if training_ranges:
        # the step, indexing and KAM ranges of the training maps (ebsdphase.models.domain)
        card["training_ranges"] = training_ranges
    card_path = folder / f"{name}{CARD_SUFFIX}"
    write_text_atomic(card_path, json.dumps(card, indent=2, default=_json_default) + "\n")
    return card_path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
