"""Shared look of the figures: one colour per physics-bias level, PNG + PDF output."""

from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.layout_engine import PlaceHolderLayoutEngine  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from workflow_scripts.files import atomic_path  # noqa: E402

BIAS_COLOURS = {"none": "#4C72B0", "weak": "#DD8452", "strong": "#55A868"}
BIAS_ORDER = ("none", "weak", "strong")
BIAS_WORDS = {"none": "no", "weak": "weak", "strong": "strong"}  # legend: "unet (no prior)"
VARIANT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
VARIANT_LINESTYLES = ("-", "--", ":", "-.")

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 200,
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
)


def save_figure(
    figure: Figure, outputs: list[Path] | tuple[Path, ...], *, laid_out: bool = False
) -> None:
    """Save to every output path (format from its suffix), atomically, then close.

    Panels are spaced by tight_layout unless the caller ``laid_out`` the figure (hand-placed
    colour bars, a layout engine); one panel needs no spacing.
    """
    crop = _lay_out(figure, laid_out)
    for path in map(Path, outputs):
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=path.suffix.lstrip("."), bbox_inches=crop)
    plt.close(figure)


def _lay_out(figure: Figure, laid_out: bool) -> Bbox:
    """Label the log axes, space the panels, and return the crop to what is drawn, padded
    as bbox_inches="tight" pads it. Computed once for every format: each "tight" save, or
    save with a layout engine, draws the figure an extra time (with tight_layout on a
    single panel, those took a third of a figure job's drawing)."""
    for axes in figure.axes:
        label_log_ticks(axes.xaxis)
        label_log_ticks(axes.yaxis)
    engine = figure.get_layout_engine()
    if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
        figure.draw_without_rendering()  # a layout engine places the panels at draw time
    elif engine is None and len(figure.axes) > 1 and not laid_out:
        figure.tight_layout()
    # With any engine set (tight_layout leaves a placeholder), each save first draws the
    # figure once more to run it: the panels stay where they are now.
    figure.set_layout_engine(None)
    shown_dpi = figure.dpi
    figure.set_dpi(plt.rcParams["savefig.dpi"])  # text measured as the PNG draws it
    crop = figure.get_tightbbox(figure.canvas.get_renderer())
    figure.set_dpi(shown_dpi)
    return crop.padded(plt.rcParams["savefig.pad_inches"])


def warm_up_drawing() -> None:
    """Draw one small figure in the house style and save it as PNG and PDF, to memory: the
    first figure a process draws pays for loading fonts and glyphs and importing the savers
    (about 0.1 s), which a process forked after this inherits instead."""
    figure, axes = plt.subplots(figsize=(2.0, 2.0))
    axes.loglog([1.0, 1e3], [1e-3, 2.0], marker="o", label="warm-up")
    axes.set(title="warm-up", xlabel="x (unit)", ylabel="y (unit)")
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    crop = _lay_out(figure, laid_out=False)
    for file_format in ("png", "pdf"):
        figure.savefig(BytesIO(), format=file_format, bbox_inches=crop)
    plt.close(figure)


def decades_shown(axis) -> int:
    """How many labelled decades (major ticks) a log axis shows."""
    low, high = sorted(axis.get_view_interval())
    return sum(low <= tick <= high for tick in axis.get_majorticklocs())


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _decade(value: float) -> tuple[float, int]:
    """(mantissa, exponent) with value = mantissa x 10^exponent, 1 <= mantissa < 10."""
    exponent = math.floor(math.log10(value) + 1e-9)
    return round(value / 10**exponent, 6), exponent


def power_of_ten_label(value: float, _position: int = 0) -> str:
    """A log-axis label as plain text with Unicode superscripts, e.g. 10⁻³ or 2×10⁻⁷ (the
    figure's font has them): matplotlib's default log labels are mathtext, whose parser took
    about a third of each figure's drawing time."""
    mantissa, exponent = _decade(value)
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return power if mantissa == 1 else f"{mantissa:g}×{power}"


def _label_mantissas(*kept: int) -> FuncFormatter:
    """Minor-tick labels only at the given multiples of their decade."""

    def label(value: float, position: int) -> str:
        return power_of_ten_label(value, position) if _decade(value)[0] in kept else ""

    return FuncFormatter(label)


def label_log_ticks(axis) -> None:
    """Numbers on a log axis without overlap: the decades alone where two or more show; with
    one, also 2 and 5 times it; with none, 2, 3 and 5 times their decade."""
    if axis.get_scale() != "log":
        return
    shown = decades_shown(axis)
    axis.set_major_formatter(FuncFormatter(power_of_ten_label))
    if shown >= 2:
        axis.set_minor_formatter(NullFormatter())
        axis.set_tick_params(which="minor", label1On=False)  # else laid out, empty, per draw
    elif shown == 1:
        axis.set_minor_formatter(_label_mantissas(2, 5))
    else:
        axis.set_minor_formatter(_label_mantissas(2, 3, 5))


def legend_outside(axes) -> None:
    """The legend right of the axes, where it can hide no data."""
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))


def variant_styles(table) -> dict[str, dict]:
    """Colour by physics-bias level, marker by variant, in a stable order."""
    variants = (
        table[["model", "physics_bias"]]
        .drop_duplicates()
        .assign(order=lambda d: d["physics_bias"].map(BIAS_ORDER.index))
        .sort_values(["order", "model"])
    )
    return {
        row.model: {
            "color": BIAS_COLOURS[row.physics_bias],
            "marker": VARIANT_MARKERS[i % len(VARIANT_MARKERS)],
            "linestyle": VARIANT_LINESTYLES[i % len(VARIANT_LINESTYLES)],
            "label": f"{row.model} ({BIAS_WORDS[row.physics_bias]} prior)",
        }
        for i, row in enumerate(variants.itertuples())
    }


def energy_label(quantity: str, table) -> str:
    """Axis label of an energy: its unit, that PUE is not included (the measured jobs store IT
    energy; PUE enters the CO2 columns), and whether codecarbon read it or estimated it.

    A load-based estimate (no RAPL/NVML) ranks variants by wall time, not by what the
    hardware drew, so a reader must see which one a figure shows; where estimated, the
    figures plot the energy attributed to the job from its own CPU time. A table without the
    ``energy_is_estimate`` column counts as an estimate.
    """
    estimated = "energy_is_estimate" not in table or bool(table["energy_is_estimate"].any())
    how = "codecarbon estimate" if estimated else "codecarbon reading"
    # Which figure the energy columns hold (summary.py's *_energy_figure columns).
    used = {
        value
        for column in table.columns
        if str(column).endswith("_energy_figure")
        for value in table[column].dropna().astype(str)
    }
    if estimated and used and all("process-attributed" in value for value in used):
        how += ", process-attributed"
    elif estimated and used:
        how += ", machine-wide"
    return f"{quantity} (kWh excl. PUE, {how})"
