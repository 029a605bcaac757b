"""Maintainer script: put the models trained by ``make_pretrained.sh`` into ``registry/``.

    python scripts/register_pretrained.py WORK_DIR

For each ``WORK_DIR/run-synth-<channels>`` it adds the held-out synthetic test metrics of
``WORK_DIR/eval-synth-<channels>/metrics.json`` to the model card, then registers the bundle
as ``dp-<channels>`` (sha256 recorded in ``registry/registry.txt``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ebsdphase.features import QUALITY_GAIN
from ebsdphase.models.pretrained import register_pretrained
from ebsdphase.training.loop import EPOCHS

DESCRIPTIONS = {
    "bs-kam": "band slope + KAM (3 x 3, 3 deg)",
    "bs": "band slope",
    "kam": "KAM (3 x 3, 3 deg)",
    "quat": "quaternions homogenised per grain (3 deg)",
    "bc": "band contrast",
    "quality-kam": "pattern quality (BS on Oxford, IQ on EDAX, else BC) + KAM (3 x 3, 3 deg)",
}
TEST_DATA = ("12 unseen synthetic 856 x 1136 maps (presets t1, t2, t3, complex, each at 0.05, 0.1 and "
             "0.2 um, ferrite 10-90 %, Oxford channels), seeds 5000-5110")


def test_summary(metrics: dict) -> dict:
    """What a user wants from the held-out test: accuracy overall and per preset, fractions."""
    return {
        "data": TEST_DATA,
        "accuracy": metrics["accuracy"],
        "by_preset": {g: {"accuracy": m["accuracy"],
                          "ferrite_true": m["fractions"]["true"]["ferrite"],
                          "ferrite_predicted": m["fractions"]["predicted"]["ferrite"]}
                      for g, m in metrics.get("groups", {}).items()},
        "confusion_matrix": metrics["confusion_matrix"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
    }


def _dataset_facts(dataset: Path) -> tuple[int, int]:
    """Number of maps and crop size of the dataset a run was trained on."""
    from ebsdphase.dataset.io import open_dataset

    with open_dataset(dataset) as ds:
        return len(json.loads(ds.attrs["maps"])), int(ds.attrs["crop"])


PREVIOUS = " (the weights of its previous release)"
TRANSFERRED = " (its weights, read as this model's channels: train --transfer)"


def _fine_tune_note(prov: dict, name: str, kept: bool = False) -> str:
    """A run fine-tuned from the released ``name`` (``train --init name``): names it instead
    of the maintainer's cache path and says how it was tuned; "" for a run from scratch or
    one continued from a maintainer's own run (its ``init`` path is kept as it is). ``kept``:
    the bundle is one epoch of ``train --keep-epochs``, chosen on whole validation maps. A
    run started from another model's weights (``train --transfer``) is named so whatever ``name``."""
    init = prov.get("init")
    if not init:
        return ""
    suffix = TRANSFERRED if prov.get("transfer") else PREVIOUS
    # a card registered before already names it (the script may run again on the same run)
    base = init.split(" (")[0] if init.endswith(suffix) else Path(init).stem
    if prov.get("transfer"):
        # another released model's weights, read as this model's channels (train --transfer);
        # a maintainer's own run keeps its path, as a plain fine-tune's does
        if not base.startswith("dp-"):
            return ""
        prov["init"] = f"{base}{TRANSFERRED}"
        return f"; started from the weights of {base} (`train --init {base} --transfer" + _options(prov, kept)
    if base != name:
        return ""
    prov["init"] = f"{base}{PREVIOUS}"
    return f"; fine-tuned from the previous {base} (`train --init {base}" + _options(prov, kept)


def _options(prov: dict, kept: bool) -> str:
    """The rest of a fine-tune's ``train`` command, from its rate, and how its epoch was chosen."""
    own = prov.get("own_scale") or 0.0
    return (f" --lr {prov['learning_rate']:g}"
            + (f" --own-scale {own:g}" if own else "")
            + (f" --quality-gain {prov['quality_gain']:g}" if prov.get("quality_gain", QUALITY_GAIN) != QUALITY_GAIN else "")
            + (" --random-orientation" if prov.get("random_orientation") else "")
            + (f" --border-weight {prov['border_weight']:g}" if prov.get("border_weight") else "")
            + (f" --keep-epochs`, epoch {prov['epoch']}, chosen on whole validation maps: "
               "scripts/crop_validation.py)" if kept
               else f"`, best validation epoch {prov['epoch']})"))


#: the card's description when ``scripts/smooth_validation.py --write`` chose ``smooth: soft``
SOFT_NOTE = ("; each pixel's probabilities are averaged half and half with its grain's mean "
             "(smooth: soft, chosen on validation maps: scripts/smooth_validation.py)")


#: the card's description when the recipe cleans every map (``prepare --fill-unindexed``)
FILL_NOTE = ("; every map is cleaned before the model sees it, each non-indexed pixel given its nearest "
             "indexed neighbour's orientation as AZtec/OIM clean-up does (recipe fill_unindexed), so "
             "its answer does not hinge on where indexing failed")


def main(work: Path) -> None:
    for run in sorted(work.glob("run-synth-*")):
        key = run.name.removeprefix("run-synth-")
        card_path = run / f"synth-{key}.json"
        eval_path = work / f"eval-synth-{key}" / "metrics.json"
        if not card_path.exists() or not eval_path.exists():
            print(f"skip {run}: no model card or no test evaluation yet")
            continue
        card = json.loads(card_path.read_text())
        # the file the run read (a link in WORK may point at a fine-tune's larger dataset)
        dataset = (work / f"ds-synth-{key}.h5").resolve()
        card["metrics"]["test_synthetic"] = test_summary(json.loads(eval_path.read_text()))
        n_maps, crop = _dataset_facts(dataset)
        target = run.resolve()  # a link to RUN/epochs/epoch-NNN for a kept epoch
        kept = (target.name.startswith("epoch-") and target.parent.name == EPOCHS
                and (target.parent.parent / "train.json").exists())
        tuned = _fine_tune_note(card["provenance"], f"dp-{key}", kept)
        card["provenance"].update(
            description=f"Ferrite/martensite U-Net on {DESCRIPTIONS.get(key, key)}, recipe v2 (KAM in "
                        "degrees, quality over its 98th percentile: no per-map standardisation). "
                        f"Trained on {n_maps} synthetic maps of 288 x 352 (`ebsdphase synth "
                        "--preset random`: ferrite 0-100 %, steps 0.05-0.5 um, Oxford and EDAX channels "
                        "(Oxford only for BS/BC models), cleaned maps, deformed ferrite; and one per paper "
                        "preset at 0.1 um) with the "
                        "paper's 11 augmentations (so steps up to ~1 um); "
                        f"{card['params']['depth']}-step U-Net, {card['params']['filters']} filters, "
                        f"{crop} x {crop} crops, optimizer {card['provenance']['optimizer']}"
                        + (f"; maps finer than {card['finest_step_um']:g} um are predicted on "
                           "sub-lattices (chosen on validation maps: scripts/sublattice_validation.py)"
                           if card.get("finest_step_um") else "")
                        + FILL_NOTE * bool(card["recipe"].get("fill_unindexed"))
                        + SOFT_NOTE * (card.get("smooth") == "soft")
                        + (f"; maps whose shorter side is under {card['min_extent_um']:g} um are predicted "
                           "with a warning (crops of such a size disagree with the whole map: "
                           "scripts/extent_validation.py)" if card.get("min_extent_um") else "")
                        + tuned + ". Not trained on real maps: it is checked on the "
                        "known-phase real maps of benchmarks/bench_real.py, but check it on yours "
                        "with `ebsdphase evaluate` before trusting fractions.",
            dataset=f"scripts/make_pretrained.sh ({dataset.name})",
            run_dir=None)
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        short = f"{DESCRIPTIONS.get(key, key)}; synthetic DP maps (see the card)"
        entry = register_pretrained(f"dp-{key}", run, description=short)
        acc = card["metrics"]["test_synthetic"]["accuracy"]
        print(f"registered dp-{key}: test accuracy {100 * acc:.2f} %, files {entry['files']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
