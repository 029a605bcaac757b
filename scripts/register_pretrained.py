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

from ebsdphase.models.pretrained import register_pretrained

DESCRIPTIONS = {
    "bs-kam": "band slope + KAM (3 x 3, 3 deg)",
    "bs": "band slope",
    "kam": "KAM (3 x 3, 3 deg)",
    "quat": "quaternions homogenised per grain (3 deg)",
    "bc": "band contrast",
}


def test_summary(metrics: dict) -> dict:
    """What a user wants from the held-out test: accuracy overall and per preset, fractions."""
    return {
        "data": "4 unseen synthetic 856 x 1136 maps (t1, t2, t3, complex), seeds 5000-5030",
        "accuracy": metrics["accuracy"],
        "by_preset": {g: {"accuracy": m["accuracy"],
                          "ferrite_true": m["fractions"]["true"]["ferrite"],
                          "ferrite_predicted": m["fractions"]["predicted"]["ferrite"]}
                      for g, m in metrics.get("groups", {}).items()},
        "confusion_matrix": metrics["confusion_matrix"],
        "precision": metrics["precision"],
        "recall": metrics["recall"],
    }


def main(work: Path) -> None:
    for run in sorted(work.glob("run-synth-*")):
        key = run.name.removeprefix("run-synth-")
        card_path = run / f"synth-{key}.json"
        eval_path = work / f"eval-synth-{key}" / "metrics.json"
        if not card_path.exists() or not eval_path.exists():
            print(f"skip {run}: no model card or no test evaluation yet")
            continue
        card = json.loads(card_path.read_text())
        card["metrics"]["test_synthetic"] = test_summary(json.loads(eval_path.read_text()))
        card["provenance"].update(
            description=f"Ferrite/martensite U-Net on {DESCRIPTIONS.get(key, key)}, trained on "
                        "8 synthetic dual-phase maps (ebsdphase synth, presets t1/t2/t3/complex, "
                        "428 x 568 at 0.1 um) with the paper's 11 augmentations; 5-step U-Net, "
                        "96 x 96 crops, Adam. Not trained on real maps: check it on yours with "
                        "`ebsdphase evaluate` before trusting fractions.",
            dataset=f"scripts/make_pretrained.sh (ds-synth-{key}.h5)", run_dir=None)
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        short = f"{DESCRIPTIONS.get(key, key)}; synthetic DP maps (see the card)"
        entry = register_pretrained(f"dp-{key}", run, description=short)
        acc = card["metrics"]["test_synthetic"]["accuracy"]
        print(f"registered dp-{key}: test accuracy {100 * acc:.2f} %, files {entry['files']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
