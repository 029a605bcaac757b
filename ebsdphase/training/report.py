"""``report.html`` of a training run: the epochs as a table, the curves, the model card."""

from __future__ import annotations

import json
from pathlib import Path

from ebsdphase.htmlreport import write_report

#: history columns shown, in this order, when the run has them
_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "val_balanced_accuracy", "seconds")


def _cell(key: str, value) -> str:  # noqa: ANN001 - a CSV/JSON scalar
    if value in (None, ""):
        return ""
    if key == "epoch":
        return str(int(value))
    if "accuracy" in key:
        return f"{100 * float(value):.2f}"
    return f"{float(value):.4g}"


def write_train_report(run_dir: Path, config: dict, history: list[dict], best_epoch: int | None,
                       card: Path | None) -> Path:
    """``run_dir/report.html``: one row per epoch (accuracies in %, the best epoch marked),
    the accuracy/loss curves and the card of the kept model, all inlined."""
    columns = [c for c in _COLUMNS if any(c in r and r[c] not in (None, "") for r in history)]
    header = [c.replace("_", " ") + (" %" if "accuracy" in c else "") for c in columns] + ["kept"]
    rows = [[_cell(c, r.get(c)) for c in columns] + ["best" if r.get("epoch") == best_epoch else ""]
            for r in history]
    notes = [f"dataset {config.get('dataset')}, architecture {config.get('architecture')} "
             f"{json.dumps(config.get('params') or {})}, monitor {config.get('monitor')}, "
             f"{config.get('epochs')} epochs of batch {config.get('batch_size')}"]
    texts = {}
    if card is not None and card.exists():
        texts[f"model card ({card.name})"] = json.dumps(json.loads(card.read_text()), indent=2)
    texts["settings (train.json)"] = json.dumps(config, indent=2)
    curves = run_dir / "curves.png"
    return write_report(run_dir / "report.html", f"Training run {config.get('name')}", header, rows, {},
                        notes, [curves], texts)
