"""The report's charts, drawn with matplotlib (in the ``train`` extra; imported only by ``specc report``).

Why matplotlib rather than hand-drawn SVG: axes, error bars, legends and text layout are solved problems,
and practitioners read forgetting as exactly these before/after bar charts. Each chart is returned as
PNG bytes so the HTML can embed it (self-contained) and the same bytes are written next to it.
PNG metadata is stripped of the matplotlib version so a chart depends only on its numbers.
"""

from __future__ import annotations

import io
import math

from specc.run.reportdata import Arm

BEFORE, COLOURS = "#b0b0b0", ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")

TITLES = {
    "loss": "Training loss per stage",
    "target": "Target before/after against the bar",
    "suites": "General suites before/after with the forgetting budget",
}
"""Chart id → title; the HTML report uses the same titles, and the browser test looks for them."""


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "specc", "path.simplify": True})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def _err(stat) -> float:
    return stat.spread if len(stat.values) > 1 else 0.0


def loss_chart(arms: list[Arm]) -> bytes:
    """One panel per arm; a line per (build, training stage): the loss the trainer logged at each step."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(arms), figsize=(max(4.5, 3.6 * len(arms)), 3.2), squeeze=False, sharey=True,
                             layout="constrained")
    for ax, arm, colour in zip(axes[0], arms, COLOURS * 4):
        drawn = 0
        for b in arm.builds:
            for stage, points in sorted(b.losses.items()):
                steps, losses = zip(*points)
                label = stage if b.seed is None else f"{stage}, seed {b.seed}"
                ax.plot(steps, losses, marker="." if len(points) < 30 else None, color=colour,
                        alpha=0.4 + 0.6 / max(1, len(arm.builds)), label=label)
                drawn += 1
        if not drawn:
            ax.text(0.5, 0.5, "no training losses logged", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(arm.label)
        ax.set_xlabel("optimiser step")
        if drawn and drawn <= 4:
            ax.legend(fontsize=7)
    axes[0][0].set_ylabel("training loss")
    fig.suptitle(TITLES["loss"])
    return _png(fig)


def target_chart(arms: list[Arm]) -> bytes:
    """Per arm: target score before and after tuning (mean ± spread over seeds, seeds as dots), and the bar."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(4.5, 1.8 * len(arms) + 2), 3.4), layout="constrained")
    width = 0.38
    for i, (arm, colour) in enumerate(zip(arms, COLOURS * 4)):
        for offset, stat, c, label in ((-width / 2, arm.target_before, BEFORE, "before"),
                                       (width / 2, arm.target_after, colour, "after")):
            if stat.mean is None:
                continue
            ax.bar(i + offset, stat.mean, width, color=c, yerr=_err(stat) or None, capsize=4,
                   label=label if i == 0 or label == "after" else None, edgecolor="black", linewidth=0.4)
            ax.scatter([i + offset] * len(stat.values), stat.values, s=10, color="black", zorder=3)
    bar = next((a.bar for a in arms if a.bar is not None), None)
    if bar is not None:
        ax.axhline(bar, color="#d62728", linestyle="--", linewidth=1.2, label=f"bar {bar:g}")
    ax.set_xticks(range(len(arms)), [a.label for a in arms])
    ax.set_ylabel(arms[0].metric if arms else "score")
    ax.set_ylim(0, max(1.05, max((a.target_after.mean or 0) for a in arms) * 1.1 if arms else 1.05))
    ax.set_title(TITLES["target"])
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    ax.legend(seen.values(), seen.keys(), fontsize=7, loc="upper left")
    return _png(fig)


def suites_chart(arms: list[Arm]) -> bytes:
    """One panel per general suite: baseline, then each arm's score after tuning (mean ± spread), and a
    dashed line at the worst score the forgetting budget allows. Bars past the line are hatched."""
    plt = _plt()
    names: list[str] = []
    for arm in arms:
        names += [s.name for s in arm.suites if s.name not in names]
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False,
                             layout="constrained")
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        stats = [next((s for s in arm.suites if s.name == name), None) for arm in arms]
        first = next(s for s in stats if s is not None)
        xs, labels = [0], ["before"]
        ax.bar(0, first.before.mean or 0, 0.7, color=BEFORE, yerr=_err(first.before) or None, capsize=4,
               edgecolor="black", linewidth=0.4)
        for i, (arm, s, colour) in enumerate(zip(arms, stats, COLOURS * 4), start=1):
            if s is None or s.after.mean is None:
                continue
            breach = s.limit is not None and (s.after.mean < s.limit if s.higher_is_better else s.after.mean > s.limit)
            ax.bar(i, s.after.mean, 0.7, color=colour, yerr=_err(s.after) or None, capsize=4,
                   hatch="//" if breach else None, edgecolor="black", linewidth=0.4)
            ax.scatter([i] * len(s.after.values), s.after.values, s=8, color="black", zorder=3)
            xs.append(i)
            labels.append(arm.label)
        if first.limit is not None:
            ax.axhline(first.limit, color="#d62728", linestyle="--", linewidth=1.1)
            ax.text(0.99, first.limit, "budget", color="#d62728", fontsize=7, va="bottom", ha="right",
                    transform=ax.get_yaxis_transform())
        ax.set_xticks(xs, labels, rotation=20, ha="right", fontsize=7)
        if first.higher_is_better and max([first.before.mean or 0] + [v for s in stats if s for v in s.after.values]) <= 1:
            ax.set_ylim(0, 1.05)  # accuracy-like: the whole scale, so small and large drops look their size
        ax.set_title(f"{name} ({'higher' if first.higher_is_better else 'lower'} is better)", fontsize=9)
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(TITLES["suites"])
    return _png(fig)


def draw_all(arms: list[Arm]) -> dict[str, bytes]:
    """Chart id → PNG bytes, in the order the report shows them."""
    return {"target": target_chart(arms), "suites": suites_chart(arms), "loss": loss_chart(arms)}
