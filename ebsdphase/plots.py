"""Every PNG the project writes: phase maps, accuracy maps, bar charts, confusion matrices,
training curves, synthetic-map previews.

Pixel images (phase and accuracy maps) are written with Pillow, one image pixel per map
pixel, so they can be overlaid on the map. Charts use matplotlib with the Agg backend,
imported inside the functions so that ``import ebsdphase`` stays fast. All files are
written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Mapping

import numpy as np

from ebsdphase.core.atomic import atomic_path
from ebsdphase.core.classes import OTHER_PHASE_COLOUR, OTHER_PHASE_LABEL, ClassSet
from ebsdphase.core.text import short_name


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_rgb(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write a (rows, cols, 3) uint8 array as a PNG, atomically."""
    from PIL import Image

    p = Path(path)
    with atomic_path(p) as tmp:
        # zlib level 3: half the time of the default 6 for a phase map (0.04 vs 0.09 s at
        # 856 x 1136, in every predict), the file ~30 % larger, the pixels the same
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), mode="RGB").save(tmp, format="PNG",
                                                                                    compress_level=3)
    return p


def save_phase_map(path: str | os.PathLike, classes: np.ndarray, class_set: ClassSet,
                   background: tuple[int, int, int] = (0, 0, 0)) -> Path:
    """Phase map PNG in the class colours (values outside the classes in ``background``)."""
    return save_rgb(path, class_set.colourize(np.asarray(classes, np.uint8), unlabelled=background))


def save_accuracy_map(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Accuracy map PNG (paper Fig. 6) of the (rows, cols, 3) image made by
    :func:`ebsdphase.evaluation.metrics.accuracy_map`: white correct, grey unlabelled, one
    colour per kind of error."""
    return save_rgb(path, rgb)


def accuracy_bars(path: str | os.PathLike, accuracies: Mapping[str, Mapping[str, float | None]],
                  title: str = "Classification accuracy per map",
                  seconds: Mapping[str, float | None] | None = None) -> Path:
    """Grouped bar chart like the paper's Fig. 7.

    ``accuracies[method][map] = CA`` in [0, 1] (``None`` = not available). One group of
    bars per map, one bar per method, plus a group "all" when the caller includes it.
    ``seconds[method]`` (mean seconds per map) adds a panel of the methods' times beside
    it, in the methods' colours, on a log scale (a forest and a U-Net differ by decades).
    """
    plt = _pyplot()
    methods = list(accuracies)
    maps: list[str] = []
    for per_map in accuracies.values():
        maps.extend(m for m in per_map if m not in maps)
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(maps))
    main_w = max(4.0, 1.2 + 0.35 * len(maps) * len(methods) + 0.6 * len(maps))
    if seconds is not None:
        fig, (ax, tax) = plt.subplots(1, 2, figsize=(main_w + 3.2, 3.8), dpi=120,
                                      gridspec_kw={"width_ratios": [main_w, 3.0]})
    else:
        fig, ax = plt.subplots(figsize=(main_w, 3.8), dpi=120)
    lowest = 100.0
    for i, method in enumerate(methods):
        vals = np.array([np.nan if accuracies[method].get(m) is None else 100 * accuracies[method][m]
                         for m in maps], dtype=float)
        if np.isfinite(vals).any():
            lowest = min(lowest, float(np.nanmin(vals)))
        bars = ax.bar(x + (i - (len(methods) - 1) / 2) * width, np.nan_to_num(vals), width, label=method)
        for rect, v in zip(bars, vals):
            if np.isfinite(v) and len(maps) * len(methods) <= 24:
                ax.annotate(f"{v:.1f}", (rect.get_x() + rect.get_width() / 2, v), ha="center",
                            va="bottom", fontsize=7, rotation=90, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x)
    # long map names would run into each other: shortened in the middle, slanted
    slant = len(maps) > 4 or max((len(m) for m in maps), default=0) > 14
    ax.set_xticklabels([short_name(m, 24) for m in maps], rotation=30 if slant else 0,
                       ha="right" if slant else "center")
    ax.set_ylabel("CA (%)")
    # zoom on the interesting range as the paper does, but never hide a bar completely
    ax.set_ylim(max(0.0, np.floor(lowest - 3)), 100.5)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right", framealpha=0.9)
    ax.grid(axis="y", alpha=0.3)
    meta = None
    if seconds is not None:
        _time_panel(tax, methods, seconds)
        meta = {"ebsdphase:seconds": json.dumps({m: seconds.get(m) for m in methods})}
    fig.tight_layout()
    return _savefig(fig, path, meta)


def _time_panel(ax, methods: list[str], seconds: Mapping[str, float | None]) -> None:
    """Horizontal bars of seconds per map, one per method, colours as in the CA chart."""
    colours = [f"C{i}" for i in range(len(methods))]
    vals = [seconds.get(m) for m in methods]
    y = np.arange(len(methods))[::-1]
    ax.barh(y, [v if v else np.nan for v in vals], color=colours, height=0.6)
    for yi, v in zip(y, vals):
        if v:
            ax.annotate(f"{v:.3g} s", (v, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels(methods, fontsize=7)
    finite = [v for v in vals if v]
    if finite:
        ax.set_xlim(min(finite) / 2, max(finite) * 8)
    ax.set_xlabel("seconds per map")
    ax.set_title("time", fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def confusion_figure(path: str | os.PathLike, m, title: str = "Confusion matrix") -> Path:  # noqa: ANN001
    """Confusion matrix (rows true, columns predicted) with counts, row percentages,
    recall per row, precision per column and the CA, as in the paper's Table 3.
    ``m``: an :class:`ebsdphase.evaluation.metrics.Metrics`."""
    plt = _pyplot()
    class_set = m.classes
    cm = m.confusion_matrix
    k = len(class_set)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * k, 1.4 + 1.3 * k), dpi=120)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for t in range(k):
        for p in range(k):
            ax.text(p, t, f"{cm[t, p]:,}\n{100 * share[t, p]:.2f} %", ha="center", va="center",
                    fontsize=8, color="white" if share[t, p] > 0.6 else "black")
    names = list(class_set.names)
    rec = [f"{n}\nrecall {100 * r:.2f} %" if np.isfinite(r) else n for n, r in zip(names, m.recall)]
    prec = [f"{n}\nprecision {100 * p:.2f} %" if np.isfinite(p) else n for n, p in zip(names, m.precision)]
    ax.set_xticks(range(k))
    ax.set_xticklabels(prec, fontsize=8)
    ax.set_yticks(range(k))
    ax.set_yticklabels(rec, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ca = m.accuracy
    ax.set_title(f"{title}\nCA = {100 * ca:.2f} %" if np.isfinite(ca) else title, fontsize=9)
    fig.tight_layout()
    return _savefig(fig, path)


def plot_curves(rows: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Accuracy and loss against epochs, training solid and validation dashed (Fig. 5).

    ``rows`` are the training history rows (``epoch``, ``accuracy``, ``loss``, ``val_*``).
    """
    plt = _pyplot()
    epochs = [r["epoch"] for r in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=120, constrained_layout=True)
    for ax, key, label in ((axes[0], "accuracy", "classification accuracy [%]"), (axes[1], "loss", "loss")):
        scale = 100.0 if key == "accuracy" else 1.0
        for prefix, style, name in (("", "-", "training"), ("val_", "--", "validation")):
            values = [r.get(prefix + key) for r in rows]
            if any(v is not None and v != "" for v in values):
                ax.plot(epochs, [float(v) * scale if v not in (None, "") else np.nan for v in values],
                        style, marker="o", ms=3, label=name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _savefig(fig, path)


def synth_preview(path: str | os.PathLike, result) -> Path:
    """BS, KAM, orientation colouring and true labels of a synthetic map
    (:class:`ebsdphase.synth.SynthResult`) side by side, as one PNG."""
    from ebsdphase.crystal import kam as kam_of
    from ebsdphase.crystal.ipf import ipf_colours

    plt = _pyplot()
    m = result.map
    kam = kam_of(m, 1, 3.0)
    ipf = ipf_colours(m.quaternions, m.indexed)
    fig, axes = plt.subplots(1, 4, figsize=(20, 5.2 * m.rows / m.cols + 0.8), dpi=90,
                             constrained_layout=True)
    im = axes[0].imshow(m.channels["bs"], cmap="gray")
    fig.colorbar(im, ax=axes[0], shrink=0.7)
    im = axes[1].imshow(kam, cmap="viridis", vmin=0, vmax=1.5)
    fig.colorbar(im, ax=axes[1], shrink=0.7)
    axes[2].imshow(ipf)
    axes[3].imshow(ClassSet().colourize(result.labels))
    titles = ["band slope (BS)", "KAM 3x3, 3 deg (deg)", "IPF-Z", "truth: ferrite red, martensite blue"]
    for ax, t in zip(axes, titles):
        ax.set_title(t)
        ax.set_axis_off()
    info = result.info
    fig.suptitle(f"synthetic {info['preset']} seed {info['seed']}: ferrite "
                 f"{100 * info['fractions_all']['ferrite']:.1f} %, indexed {100 * info['indexed_fraction']:.1f} %")
    return _savefig(fig, path)


def _savefig(fig, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Save ``fig`` as a PNG atomically (``metadata``: PNG text chunks) and close it."""
    p = Path(path)
    try:
        with atomic_path(p) as tmp:
            fig.savefig(tmp, format="png", metadata=metadata)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return p


def _nice_length(width_um: float) -> float:
    """A round scale-bar length near a fifth of the map width (1, 2 or 5 x 10^k um)."""
    target = max(width_um / 5.0, 1e-6)
    k = np.floor(np.log10(target))
    for m in (5.0, 2.0, 1.0):
        if m * 10 ** k <= target:
            return float(m * 10 ** k)
    return float(10 ** k)


def _scalebar(ax, length_um: float, step_um: float, colour: str = "white") -> None:
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    label = f"{length_um:g} µm"
    bar = AnchoredSizeBar(ax.transData, length_um / step_um, label, "lower right", pad=0.4, color=colour,
                          frameon=False, size_vertical=max(1.0, 0.012 * ax.get_ylim()[0]), label_top=True)
    bar.set_gid(f"scalebar:{length_um:g}")
    ax.add_artist(bar)


def _pc(v: float) -> str:
    """A fraction in a figure: "12.3 %", or "n/a" for a map with no pixel to count (NaN)."""
    return "n/a" if v != v else f"{100 * v:.1f} %"


def map_figure(path: str | os.PathLike, ebsd, pred, title: str = "") -> Path:
    """``<stem>.figure.png``: the inputs a metallurgist checks a phase map against, beside it.

    Panels: the quality channel (BS, IQ or BC), KAM (degrees, colour bar), IPF-Z (cubic key
    inset), the phase map (class colours, legend, fractions in the title) and the per-pixel
    uncertainty (normalised entropy, colour bar); each with a scale bar in micrometres.
    Class images use nearest-neighbour rendering. The legend entries and the scale-bar
    length are stored in the PNG's text chunks (``ebsdphase:legend``,
    ``ebsdphase:scalebar_um``) for tools and tests.
    """

    from matplotlib.patches import Patch

    from ebsdphase.crystal import kam
    from ebsdphase.crystal.ipf import ipf_colours, key_triangle
    from ebsdphase.features import quality_source

    plt = _pyplot()
    rows, cols = ebsd.shape
    step = float(ebsd.step[0])
    length = _nice_length(cols * step)
    qname = quality_source(ebsd)
    panels = 5 if qname else 4
    aspect = rows / max(cols, 1)
    fig, axes = plt.subplots(1, panels, figsize=(3.4 * panels, 3.4 * aspect + 1.2), dpi=120,
                             constrained_layout=True)
    axes = list(np.atleast_1d(axes))
    i = 0
    if qname:
        v = np.where(ebsd.indexed, ebsd.channels[qname], np.nan)
        im = axes[i].imshow(v, cmap="gray", interpolation="nearest")
        fig.colorbar(im, ax=axes[i], shrink=0.8, label=qname.upper())
        axes[i].set_title(f"pattern quality ({qname.upper()})", fontsize=9)
        i += 1
    k = np.where(ebsd.indexed, kam(ebsd, 1, 3.0), np.nan)
    im = axes[i].imshow(k, cmap="viridis", vmin=0, vmax=max(1.0, float(np.nanpercentile(k, 99)) if np.isfinite(k).any() else 1.0),
                        interpolation="nearest")
    fig.colorbar(im, ax=axes[i], shrink=0.8, label="KAM (deg)")
    axes[i].set_title("KAM 3x3, 3 deg", fontsize=9)
    i += 1
    axes[i].imshow(ipf_colours(ebsd.quaternions, ebsd.indexed), interpolation="nearest")
    axes[i].set_title("IPF-Z (cubic)", fontsize=9)
    rgba, extent = key_triangle()
    inset = axes[i].inset_axes([0.70, 0.70, 0.28, 0.28])
    inset.imshow(rgba, origin="lower", extent=extent, interpolation="nearest")
    for label, (x, y) in (("001", (0.0, 0.0)), ("101", (0.41, 0.0)), ("111", (0.366, 0.366))):
        inset.text(x, y, label, fontsize=6, color="white", ha="center", va="bottom")
    inset.set_axis_off()
    i += 1
    classes = pred.class_set
    axes[i].imshow(classes.colourize(pred.shown_classes(), unlabelled=OTHER_PHASE_COLOUR), interpolation="nearest")
    fractions = pred.fractions()
    fr = fractions["all"]
    head = "phases"
    legend = [f"{n} ({100 * fr[n]:.1f} %)" for n in classes.names]
    colours = list(classes.colours)
    if pred.iron is not None:  # a duplex or TRIP map: fractions of its iron, the other phase greyed out
        fr, head = fractions["iron"], "phases of the bcc iron"
        legend = [f"{n} ({_pc(fr[n])} of bcc)" for n in classes.names] + [OTHER_PHASE_LABEL]
        colours.append(OTHER_PHASE_COLOUR)
    axes[i].set_title(f"{head}: " + ", ".join(f"{n} {_pc(fr[n])}" for n in classes.names), fontsize=9)
    axes[i].legend(handles=[Patch(color=np.array(c) / 255, label=lab) for c, lab in zip(colours, legend)],
                   loc="upper left", fontsize=7, framealpha=0.85)
    i += 1
    im = axes[i].imshow(pred.entropy, cmap="magma", vmin=0, vmax=1, interpolation="nearest")
    fig.colorbar(im, ax=axes[i], shrink=0.8, label="uncertainty (entropy / ln K)")
    axes[i].set_title("uncertainty", fontsize=9)
    for ax in axes:
        _scalebar(ax, length, step)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    meta = {"ebsdphase:legend": json.dumps(legend), "ebsdphase:scalebar_um": f"{length:g}",
            "ebsdphase:panels": json.dumps([ax.get_title() for ax in axes])}
    return _savefig(fig, path, meta)


def accuracy_figure(path: str | os.PathLike, rgb: np.ndarray, legend: Mapping[str, tuple[int, int, int]],
                    accuracy: float, step_um: float | None = None, title: str = "") -> Path:
    """The accuracy map (paper Fig. 6) as a figure: a legend of what each colour means
    (correct, unlabelled, each kind of error), a scale bar in um when the step is known, and
    the CA in the title. Legend and scale bar are stored in the PNG's text chunks."""

    from matplotlib.patches import Patch

    plt = _pyplot()
    rows, cols = rgb.shape[:2]
    fig, ax = plt.subplots(figsize=(7.5, 5.0 * rows / max(cols, 1) + 0.6), dpi=120, constrained_layout=True)
    ax.imshow(rgb, interpolation="nearest")
    handles = [Patch(facecolor=np.array(c) / 255, edgecolor="#555", label=name) for name, c in legend.items()]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ca = "" if accuracy != accuracy else f"CA {100 * accuracy:.2f} %"
    ax.set_title(" - ".join(s for s in (title, ca) if s), fontsize=9)
    meta = {"ebsdphase:legend": json.dumps(list(legend)), "ebsdphase:title": ax.get_title()}
    if step_um:
        length = _nice_length(cols * step_um)
        _scalebar(ax, length, step_um, colour="black")
        meta["ebsdphase:scalebar_um"] = f"{length:g}"
    ax.set_xticks([])
    ax.set_yticks([])
    return _savefig(fig, path, meta)
