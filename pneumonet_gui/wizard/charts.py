"""The wizard's charts on matplotlib canvases, in the app's dark reading-room colours.

Class distribution, training curves (loss, accuracy, AUC per epoch, training and
validation), the ROC curve with its operating point, and the confusion matrix. Each keeps
the numbers it shows as attributes, so tests can read what a person would see.
"""

from __future__ import annotations

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

# PySide6 first, so matplotlib's Qt canvas binds to it. The canvas is used directly: no
# pyplot and no global backend switch (which refuses to load where there is no display).
from PySide6.QtWidgets import QSizePolicy

from pneumonet_gui import theme

TRAIN_COLOUR = theme.ACCENT
VALIDATION_COLOUR = theme.PNEUMONIA
CLASS_COLOURS = {"NORMAL": theme.NORMAL, "PNEUMONIA": theme.PNEUMONIA, "BACTERIA": "#d9822b", "VIRUS": "#c4a35a"}


class _Canvas(FigureCanvasQTAgg):
    """A figure whose background and text follow the app theme."""

    def __init__(self, width: float, height: float, parent=None):
        self.figure = Figure(figsize=(width, height), dpi=100, facecolor=theme.WINDOW, layout="constrained")
        super().__init__(self.figure)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumHeight(int(height * 60))

    def style(self, ax, title: str = "") -> None:
        ax.set_facecolor(theme.BASE)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(theme.BORDER)
        ax.tick_params(colors=theme.MUTED, labelsize=8)
        ax.xaxis.label.set_color(theme.MUTED)
        ax.yaxis.label.set_color(theme.MUTED)
        ax.xaxis.label.set_size(8)
        ax.yaxis.label.set_size(8)
        ax.grid(True, color=theme.BORDER, linewidth=0.5, alpha=0.6)
        ax.set_axisbelow(True)
        if title:
            ax.set_title(title, color=theme.TEXT, fontsize=9, loc="left")


class ClassDistributionChart(_Canvas):
    """Images per class as bars, each labelled with its image and patient counts."""

    def __init__(self, parent=None):
        super().__init__(4.2, 2.6, parent)
        self.counts: dict[str, int] = {}

    def show_counts(self, counts: dict[str, int], patients: dict[str, int] | None = None, title: str = "") -> None:
        self.counts = dict(counts)
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        self.style(ax, title or "Images per class")
        names = list(counts)
        values = [counts[n] for n in names]
        bars = ax.bar(names, values, color=[CLASS_COLOURS.get(n, theme.ACCENT) for n in names], width=0.55)
        top = max(values) if values else 1
        for bar, name in zip(bars, names):
            text = f"{counts[name]}"
            if patients:
                text += f"\n{patients.get(name, 0)} patients"
            ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", color=theme.TEXT, fontsize=8)
        ax.set_ylim(0, top * 1.3 + 1)
        ax.set_ylabel("images")
        ax.grid(False, axis="x")
        self.draw_idle()


class TrainingCurves(_Canvas):
    """Loss, accuracy and AUC per epoch, training (solid) and validation (dashed)."""

    METRICS = (("loss", "val_loss", "Loss"), ("accuracy", "val_accuracy", "Accuracy"), ("auc", "val_auc", "AUC"))

    def __init__(self, parent=None):
        super().__init__(9.0, 2.6, parent)
        self.history: list[dict] = []
        self.legend = None  # the figure's legend, outside the axes (tests check it covers no curve)
        self._draw()

    def clear(self) -> None:
        self.history = []
        self._draw()

    def add_epoch(self, event: dict) -> None:
        self.history.append(dict(event))
        self._draw()

    def points(self, key: str) -> list[float]:
        """The values plotted for one metric key (e.g. "val_auc"), one per epoch."""
        return [float(e.get(key, float("nan"))) for e in self.history]

    def _draw(self) -> None:
        self.figure.clear()
        axes = self.figure.subplots(1, 3)
        epochs = [e.get("epoch", i + 1) for i, e in enumerate(self.history)]
        best = [e.get("epoch") for e in self.history if e.get("best")]
        for ax, (train_key, val_key, title) in zip(axes, self.METRICS):
            self.style(ax, title)
            ax.set_xlabel("epoch")
            if self.history:
                ax.plot(epochs, self.points(train_key), "-o", color=TRAIN_COLOUR, markersize=3, linewidth=1.4,
                        label="training")
                ax.plot(epochs, self.points(val_key), "--o", color=VALIDATION_COLOUR, markersize=3, linewidth=1.4,
                        label="validation")
                if best:
                    ax.axvline(best[-1], color=theme.MUTED, linewidth=0.8, linestyle=":")
                ax.set_xlim(0.5, max(epochs[-1], 2) + 0.5)
                ax.xaxis.get_major_locator().set_params(integer=True)
            else:
                ax.set_xlim(0.5, 2.5)
                ax.set_xticks([1, 2])
            if title != "Loss":
                ax.set_ylim(0, 1.02)
        if self.history:
            # Above the plots, never inside one: inside, it covered the validation curve.
            handles, labels = axes[0].get_legend_handles_labels()
            self.legend = self.figure.legend(handles, labels, fontsize=7, frameon=False, loc="outside upper right",
                                             ncols=2)
            for text in self.legend.get_texts():
                text.set_color(theme.TEXT)
        self.draw_idle()


class RocChart(_Canvas):
    """The ROC curve on held-out patients, with the operating point at the model's threshold."""

    def __init__(self, parent=None):
        super().__init__(3.6, 3.2, parent)
        self.auc: float | None = None
        self.fpr: list[float] = []
        self.tpr: list[float] = []

    def show_curve(self, fpr, tpr, auc, operating_point: tuple[float, float] | None = None) -> None:
        self.fpr, self.tpr, self.auc = list(fpr), list(tpr), auc
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        self.style(ax, "ROC curve")
        ax.plot([0, 1], [0, 1], color=theme.BORDER, linewidth=1, linestyle="--")
        if self.fpr:
            label = f"AUC {auc:.3f}" if auc is not None else "AUC n/a"
            ax.plot(self.fpr, self.tpr, color=theme.ACCENT, linewidth=1.8, label=label)
        if operating_point is not None:
            x, y = operating_point
            ax.plot([x], [y], "o", color=VALIDATION_COLOUR, markersize=6, label="operating threshold")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_xlabel("1 - specificity (false positive rate)")
        ax.set_ylabel("sensitivity (true positive rate)")
        ax.set_aspect("equal")
        legend = ax.legend(fontsize=7, frameon=True, loc="lower right", facecolor=theme.BASE, edgecolor=theme.BORDER,
                           framealpha=0.9)
        for text in legend.get_texts():
            text.set_color(theme.TEXT)
        self.draw_idle()


class ConfusionMatrixChart(_Canvas):
    """The 2 x 2 confusion matrix [[tn, fp], [fn, tp]] with counts in the cells."""

    def __init__(self, parent=None):
        super().__init__(3.4, 3.2, parent)
        self.matrix: list[list[int]] = []

    def show_matrix(self, matrix, class_names=("NORMAL", "PNEUMONIA")) -> None:
        import numpy as np

        self.matrix = [list(map(int, row)) for row in matrix]
        self.figure.clear()
        ax = self.figure.add_subplot(111)
        self.style(ax, "Confusion matrix")
        ax.grid(False)
        from matplotlib.colors import LinearSegmentedColormap

        m = np.asarray(self.matrix, dtype=float)
        # Shade by the share of each true class, so both rows read alike whatever their size.
        shade = m / np.maximum(1.0, m.sum(axis=1, keepdims=True))
        cmap = LinearSegmentedColormap.from_list("pneumonet", [theme.PANEL, "#3e6383", theme.ACCENT])
        ax.imshow(shade, cmap=cmap, vmin=0, vmax=1)
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=14, color="#ffffff",
                        fontweight="bold")
                ax.text(j, i + 0.25, f"{shade[i, j]:.0%} of row", ha="center", va="center",
                        fontsize=7, color=theme.TEXT)
        ax.set_xticks(range(len(class_names)), [f"predicted\n{n}" for n in class_names])
        ax.set_yticks(range(len(class_names)), [f"true\n{n}" for n in class_names])
        for side in ("left", "bottom"):
            ax.spines[side].set_visible(False)
        self.draw_idle()
