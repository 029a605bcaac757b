"""Pretrained models: a pooch registry with a sha256 for every file, no silent surprises.

The registry lives in the repository's top-level ``registry/`` folder:

* ``registry/pretrained.json``: one entry per model (description, architecture, channels,
  classes, validation metrics, its files);
* ``registry/registry.txt``: pooch's registry, ``<file> sha256:<hex>`` per line;
* ``registry/weights/``: the bundles' files (``NAME.json`` + ``NAME.weights.h5``).

By default files are "downloaded" by copying them from ``registry/weights/`` (tests and CI
never touch the network); ``EBSDPHASE_MODELS_URL=https://...`` fetches them from a remote
base URL instead. Either way every file is checked against its sha256 and cached in
``EBSDPHASE_DATA_DIR`` (default: the OS cache folder, ``.../ebsdphase/models``).
``EBSDPHASE_REGISTRY_DIR`` points at another registry folder.

This module is the only code that reads ``registry/``. Maintainers add a model with
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


def registry_dir() -> Path:
    """The registry folder (``$EBSDPHASE_REGISTRY_DIR`` or the repository's ``registry/``)."""
    env = os.environ.get(REGISTRY_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "registry"


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

    base = os.environ.get(MODELS_URL_ENV) or (folder / "weights").resolve().as_uri()
    store = pooch.create(path=pooch.os_cache("ebsdphase") / "models", base_url=base.rstrip("/") + "/",
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
    weights_dir = folder / "weights"
    weights_dir.mkdir(parents=True, exist_ok=True)

    card = dict(bundle.card, name=name)
    card_file = weights_dir / f"{name}{CARD_SUFFIX}"
    weights_file = weights_dir / f"{name}{WEIGHTS_SUFFIX}"
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
