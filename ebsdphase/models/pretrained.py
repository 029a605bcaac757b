"""Pretrained models: a pooch registry with a sha256 for every file, no silent surprises.

The index ships inside the package (``ebsdphase/models/index/``), so an installed wheel
knows its models:

* ``pretrained.json``: one entry per model (description, architecture, channels, classes,
  validation metrics, its files) and ``default_order``, the preference of ``predict``
  when no ``--model`` is given;
* ``registry.txt``: pooch's registry, ``<file> sha256:<hex>`` per line.

The weights (``NAME.json`` card + ``NAME.weights.h5``) are fetched through pooch from a
base URL: ``$EBSDPHASE_MODELS_URL`` when set; else, from a source checkout, its
``registry/weights/`` folder (a file:// base, so tests and CI never touch the network);
else the project's release location :data:`DEFAULT_MODELS_URL`. Every file is checked
against its sha256 and cached in ``$EBSDPHASE_DATA_DIR`` (default: the OS cache folder,
``.../ebsdphase/models``); a cached file that fails the check is fetched again once.
``$EBSDPHASE_REGISTRY_DIR`` points at another registry folder (``pretrained.json``,
``registry.txt``, ``weights/``), for maintainers and tests.

This module is the only code that reads the index. Maintainers add a model with
:func:`register_pretrained`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from ebsdphase.core.atomic import atomic_path, write_text_atomic
from ebsdphase.core.errors import EbsdphaseError

MODELS_URL_ENV = "EBSDPHASE_MODELS_URL"
DATA_DIR_ENV = "EBSDPHASE_DATA_DIR"
REGISTRY_DIR_ENV = "EBSDPHASE_REGISTRY_DIR"
#: where released weights are published (one folder per index version)
DEFAULT_MODELS_URL = "https://github.com/ebsdphase/ebsdphase/releases/download/models-v2/"
#: the index inside the package
PACKAGE_INDEX = Path(__file__).resolve().parent / "index"
#: the weights of a source checkout (absent from an installed wheel)
CHECKOUT_WEIGHTS = Path(__file__).resolve().parents[2] / "registry" / "weights"


def registry_dir() -> Path:
    """The folder holding the index: ``$EBSDPHASE_REGISTRY_DIR`` or the package's index."""
    env = os.environ.get(REGISTRY_DIR_ENV)
    return Path(env) if env else PACKAGE_INDEX


def weights_dir() -> Path | None:
    """The local folder the weights are copied from, or None (fetched from a URL)."""
    env = os.environ.get(REGISTRY_DIR_ENV)
    if env:
        return Path(env) / "weights"
    return CHECKOUT_WEIGHTS if CHECKOUT_WEIGHTS.is_dir() else None


def base_url() -> str:
    """The base URL the weights are fetched from (see the module docstring)."""
    env = os.environ.get(MODELS_URL_ENV)
    if env:
        return env.rstrip("/") + "/"
    local = weights_dir()
    return local.resolve().as_uri() + "/" if local is not None else DEFAULT_MODELS_URL


def _index(folder: Path) -> dict:
    path = folder / "pretrained.json"
    if not path.exists():
        return {"format": "ebsdphase-pretrained", "version": 1, "models": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["models"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EbsdphaseError(f"{path}: not a pretrained-model index ({exc})") from None
    return data


def list_pretrained() -> dict[str, dict]:
    """Every pretrained model of the registry, by name (empty when there are none)."""
    return dict(sorted(_index(registry_dir())["models"].items()))


def default_order() -> list[str]:
    """Pretrained model names in the order ``predict`` prefers them when no model is
    named: the index's ``default_order``, then the other models by name."""
    index = _index(registry_dir())
    names = sorted(index["models"])
    preferred = [n for n in index.get("default_order", []) if n in index["models"]]
    return preferred + [n for n in names if n not in preferred]


def best_for(ebsd_map) -> str:
    """The first pretrained model of :func:`default_order` whose channels ``ebsd_map``
    provides (read from the index: nothing is fetched)."""
    from ebsdphase.features import ChannelRecipe

    models = list_pretrained()
    for name in default_order():
        recipe = ChannelRecipe(tuple(models[name].get("channels") or ("bs", "kam")))
        if not recipe.missing(ebsd_map):
            return name
    have = ", ".join(sorted(ebsd_map.channels)) or "none"
    raise EbsdphaseError(f"{ebsd_map.source or 'map'}: no pretrained model takes this map's channels "
                         f"({have}); name a model trained on them")


def _copy_downloader(url: str, output_file, pooch_obj, check_only: bool = False):  # noqa: ANN001
    """Copy from the local ``registry/weights`` folder (file:// URLs), else download over HTTP."""
    parsed = urlparse(url)
    if parsed.scheme != "file":
        import pooch

        return pooch.HTTPDownloader()(url, output_file, pooch_obj, check_only=check_only)
    source = Path(unquote(parsed.path))
    if check_only:
        return source.exists()
    if not source.exists():
        raise EbsdphaseError(f"{source}: pretrained file missing from the registry folder")
    if hasattr(output_file, "write"):
        with open(source, "rb") as fin:
            shutil.copyfileobj(fin, output_file)
    else:
        shutil.copyfile(source, output_file)
    return None


def _pooch(folder: Path):
    import pooch

    store = pooch.create(path=pooch.os_cache("ebsdphase") / "models", base_url=base_url(),
                         env=DATA_DIR_ENV, registry=None, retry_if_failed=1)
    reg = folder / "registry.txt"
    if reg.exists():
        store.load_registry(reg)
    return store


def fetch_pretrained(name: str) -> Path:
    """Fetch (or find in the cache) the bundle of pretrained model ``name``; return its
    folder. Every file is checked against the sha256 in ``registry.txt``."""
    import logging

    import pooch

    folder = registry_dir()
    models = _index(folder)["models"]
    if name not in models:
        known = ", ".join(sorted(models)) or "none yet"
        raise EbsdphaseError(f"{name}: not a model folder, card or pretrained model name "
                             f"(pretrained models: {known})")
    files = models[name].get("files") or [f"{name}.json", f"{name}.weights.h5"]
    store = _pooch(folder)
    pooch.get_logger().setLevel(logging.WARNING)  # no "Downloading ..." lines on every first use
    out = None
    for fname in files:
        if fname not in store.registry:
            raise EbsdphaseError(f"{folder / 'registry.txt'}: no sha256 for {fname} of pretrained model {name!r}")
        try:
            out = Path(store.fetch(fname, downloader=_copy_downloader))
        except ValueError as exc:
            raise EbsdphaseError(f"pretrained model {name!r}: {fname} failed its sha256 check; the "
                                 f"file is corrupt or the registry is stale ({exc})") from None
        except OSError as exc:
            raise EbsdphaseError(f"pretrained model {name!r}: cannot fetch {fname} from {store.base_url} "
                                 f"({exc})") from None
        except Exception as exc:  # noqa: BLE001 - requests' errors when a URL is configured
            if isinstance(exc, EbsdphaseError):
                raise
            raise EbsdphaseError(f"pretrained model {name!r}: cannot fetch {fname} from {store.base_url} "
                                 f"({type(exc).__name__}: {exc})") from None
    assert out is not None
    return out.parent


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def register_pretrained(name: str, bundle_dir: str | os.PathLike, description: str = "",
                        registry: str | os.PathLike | None = None) -> dict:
    """Maintainer tool: copy a trained bundle into ``registry/weights/`` as model ``name``,
    record the sha256 of its files in ``registry.txt`` and its entry in ``pretrained.json``.

    The bundle is re-saved under the new name (card ``name`` field and file names agree).
    Returns the new index entry.
    """
    from ebsdphase.models.bundle import CARD_SUFFIX, WEIGHTS_SUFFIX, load_bundle

    bundle = load_bundle(bundle_dir)
    folder = Path(registry) if registry is not None else registry_dir()
    target = folder / "weights" if registry is not None else weights_dir()
    if target is None:
        raise EbsdphaseError("register_pretrained needs a source checkout (registry/weights/) or a "
                             "registry folder")
    target.mkdir(parents=True, exist_ok=True)

    card = dict(bundle.card, name=name)
    card_file = target / f"{name}{CARD_SUFFIX}"
    weights_file = target / f"{name}{WEIGHTS_SUFFIX}"
    with atomic_path(weights_file) as tmp:
        shutil.copyfile(bundle.weights_path, tmp)
    write_text_atomic(card_file, json.dumps(card, indent=2) + "\n")

    hashes: dict[str, str] = {}
    reg = folder / "registry.txt"
    if reg.exists():
        for line in reg.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.lstrip().startswith("#"):
                hashes[parts[0]] = parts[1]
    for f in (card_file, weights_file):
        hashes[f.name] = "sha256:" + _sha256(f)
    lines = ["# pooch registry of the pretrained models: <file> <algorithm:hash>",
             "# written by ebsdphase.models.pretrained.register_pretrained; do not edit by hand"]
    lines += [f"{k} {v}" for k, v in sorted(hashes.items())]
    write_text_atomic(reg, "\n".join(lines) + "\n")

    index = _index(folder)
    entry = {
        "description": description or card.get("provenance", {}).get("description", ""),
        "architecture": card["architecture"],
        "params": card["params"],
        "channels": list(card["recipe"].get("names", [])),
        "classes": list(card["classes"]["classes"]),
        "metrics": card.get("metrics", {}),
        "files": [card_file.name, weights_file.name],
    }
    index["models"][name] = entry
    index["models"] = dict(sorted(index["models"].items()))
    write_text_atomic(folder / "pretrained.json", json.dumps(index, indent=2) + "\n")
    return entry
