"""Maintainer script: one bundle whose weights are the mean of several kept epochs of a run.

    python scripts/average_epochs.py OUT RUN/epochs/epoch-001 RUN/epochs/epoch-002 ...

Weight averaging of the epochs of one fine-tune (Izmailov et al. 2018, "Averaging weights
leads to wider optima"): the epochs of ``train --keep-epochs`` swing from one to the next
(on M1700, 87.7-95.1 % martensite over six epochs of one ``dp-quality-kam`` run), and their
mean is a model of its own with less of that swing. The U-Nets have no batch-norm statistics,
so the mean of the weights is the whole model. OUT is a copy of the last bundle given, its
weights replaced and its ``finest_step_um`` dropped (choose it again with
``scripts/sublattice_validation.py OUT --write``); the card's ``averaged_from`` lists the epochs.
Every bundle must have the same architecture, parameters and recipe.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("bundles", nargs="+")
    args = ap.parse_args()

    import numpy as np

    from ebsdphase.models.bundle import load_bundle

    bundles = [load_bundle(b) for b in args.bundles]
    first = bundles[0]
    for b in bundles[1:]:
        if (b.architecture, b.params, b.recipe) != (first.architecture, first.params, first.recipe):
            raise SystemExit(f"{b.card_path}: another architecture, parameters or recipe than {first.card_path}")
    models = [b.model for b in bundles]  # each access builds and loads a network: once each
    weights = [m.get_weights() for m in models]
    mean = [np.mean([w[i] for w in weights], axis=0).astype(weights[0][i].dtype) for i in range(len(weights[0]))]

    last = bundles[-1]
    tmp = args.out.with_name(args.out.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(last.card_path.parent, tmp)
    model = models[-1]
    model.set_weights(mean)
    weights_path = tmp / last.weights_path.name
    weights_path.unlink()
    model.save_weights(weights_path)
    card_path = tmp / last.card_path.name
    card = json.loads(card_path.read_text())
    card.pop("finest_step_um", None)
    card["averaged_from"] = [str(b.card_path.parent) for b in bundles]
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    shutil.rmtree(args.out, ignore_errors=True)
    tmp.rename(args.out)  # whole or not at all
    print(f"{args.out}: mean of {len(bundles)} bundles")


if __name__ == "__main__":
    main()
