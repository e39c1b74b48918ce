"""What every figure shares: colours, palettes, saving, message panels and panel grids.

Each plotting function of the stage packages (``acc_tiam1.<stage>.plots``) returns a
matplotlib Figure; :func:`save` writes it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogLocator
from matplotlib.transforms import Bbox
from PIL import Image

#: Resolution of every saved figure; figures are also created at it, so that the text
#: sizes measured while laying a figure out are reused when it is drawn.
DPI = 120
#: Margin (inches) around what a figure draws.
PAD = 0.1
matplotlib.rcParams["figure.dpi"] = DPI

#: A colour covering at least this many pixels of a figure is one it draws (a legend
#: marker, a line, a cluster of points), not an anti-aliased blend of two.
DRAWN_PIXELS = 20
#: The most (of 255, in any channel) the 256-colour palette may move such a colour.
COLOUR_TOLERANCE = 16

#: Palette methods tried in turn by :func:`save`.
QUANTIZERS = (Image.Quantize.MEDIANCUT, Image.Quantize.FASTOCTREE, Image.Quantize.MAXCOVERAGE)

UP = "#c0392b"
DOWN = "#2e6db4"
GREY = "#b8b8b8"


def short(name: str, width: int = 42) -> str:
    """A set name cut to ``width`` characters for axis labels."""
    return name if len(name) <= width else name[: width - 1] + "…"


def message_figure(title: str, message: str, size=(6, 2.2)):
    """A figure holding only a message (when there is nothing to plot)."""
    fig, ax = plt.subplots(figsize=size)
    ax.axis("off")
    ax.text(0.5, 0.5, textwrap.fill(message, 70), ha="center", va="center", fontsize=10)
    ax.set_title(title, fontsize=10)
    return fig


def panel_grid(
    draw,
    items: Mapping[str, object],
    title: str,
    panel_size=(5.2, 4.6),
    max_cols: int = 4,
    **kwargs,
):
    """One panel per item, drawn by ``draw(value, title=panel_title, ax=ax, **kwargs)``.

    Parameters
    ----------
    draw
        :func:`acc_tiam1.rescue.plots.rescue_scatter` or
        :func:`acc_tiam1.rescue.plots.pathway_scatter` (anything taking ``ax=``).
    items
        ``{panel title: data}``, in panel order.
    title
        Figure title.
    """
    if not items:
        return message_figure(title, "No dataset has both the pain and the ketamine contrast.")
    n = len(items)
    ncol = min(n, max_cols)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(
        nrow, ncol, figsize=(panel_size[0] * ncol, panel_size[1] * nrow), squeeze=False
    )
    for ax, (name, value) in zip(axes.flat, items.items(), strict=False):
        draw(value, title=name, ax=ax, **kwargs)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if n > 1:
        fig.suptitle(title, fontsize=11)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (panel_size[1] * nrow)))
    else:
        fig.tight_layout()
    return fig


def save(fig, path: str | Path, dpi: int = DPI) -> None:
    """Save a figure (atomically, without run-dependent metadata) and close it.

    Figures are cropped to what they draw plus :data:`PAD` inches, as matplotlib's
    ``bbox_inches="tight"`` does. PNGs are stored with a 256-colour palette when it keeps
    the figure's colours (:func:`_keeps_colours`): about a third of the size of
    matplotlib's true-colour file, which matters because the report embeds every figure.
    """
    from .io import atomic_output

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_output(path) as tmp:
        if fmt == "png":
            _palette_png(_tight_image(fig, dpi), tmp)
        else:
            fig.savefig(
                tmp,
                format=fmt,
                dpi=dpi,
                bbox_inches="tight",
                pad_inches=PAD,
                metadata={"Software": None},
            )
    plt.close(fig)


def _tight_image(fig, dpi: int):
    """The figure drawn at ``dpi`` and cropped to its tight box plus :data:`PAD` inches.

    ``savefig(bbox_inches="tight")`` draws a figure twice (once to measure it, once at
    the cropped size), and the second draw, on a new renderer, measures every text again.
    A figure that draws inside its own area is drawn once here and its pixels cropped
    (the margin narrowed to the figure's edge where it would leave it); only one that
    draws past its edges (a long title) is drawn a second time, onto a canvas grown to
    the box.
    """
    if fig.dpi != dpi:
        fig.set_dpi(dpi)
    canvas = fig.canvas
    canvas.draw()
    drawn = fig.get_tightbbox(canvas.get_renderer())
    width, height = fig.get_size_inches()
    if drawn.x0 < 0 or drawn.y0 < 0 or drawn.x1 > width or drawn.y1 > height:
        buffer = BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=drawn.padded(PAD))
        return Image.open(buffer)
    # What is drawn lies inside the figure; a margin that would not is narrowed to it.
    box = Bbox.intersection(drawn.padded(PAD), fig.bbox_inches)
    pixels = np.asarray(canvas.buffer_rgba())
    top, left = round((height - box.y1) * dpi), round(box.x0 * dpi)
    # Whole pixels, as matplotlib's canvas truncates; the slack absorbs rounding (a box
    # 4.9 in high is 587.99999... px at 120 dpi, and matplotlib's own is 588).
    rows, cols = int(box.height * dpi + 1e-6), int(box.width * dpi + 1e-6)
    return Image.fromarray(pixels[top : top + rows, left : left + cols])


def _palette_png(image, out) -> None:
    """Write ``image`` as a 256-colour PNG that keeps its colours, else in true colour.

    Median cut first (exact on most figures); where it moves a drawn colour
    (:func:`_keeps_colours`), Pillow's fast octree, then maximum coverage: on the demo
    these kept the colours of all 26 of its 175 figures that median cut did not (heat
    maps, dense scatters), at 15-70 ms each.
    """
    if image.mode == "RGBA":
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    rgb = image.convert("RGB")
    for method in QUANTIZERS:
        # No dithering: plots are flat colours, and dither noise defeats PNG compression.
        quantized = rgb.quantize(colors=256, method=method, dither=Image.Dither.NONE)
        if _keeps_colours(rgb, quantized):
            quantized.save(out, format="png", optimize=True)
            return
    rgb.save(out, format="png", optimize=True)


def _keeps_colours(rgb, quantized) -> bool:
    """Whether the palette keeps every drawn colour (see :data:`DRAWN_PIXELS`).

    Drawn colours may move by :data:`COLOUR_TOLERANCE` at most.

    Median cut fails on a scatter of tens of thousands of sub-pixel points: their
    anti-aliased blends outnumber the pure colours, and a UMAP of 88,000 nuclei in 22
    cell types lost 11 of its colours (by up to 64 of 255), two of them to the same
    palette entry.
    """
    before = np.asarray(rgb, dtype=np.int16)
    moved = before[
        np.abs(before - np.asarray(quantized.convert("RGB"), dtype=np.int16)).max(axis=2)
        > COLOUR_TOLERANCE
    ]
    if not len(moved):
        return True
    packed = (moved[:, 0].astype(np.int32) << 16) | (moved[:, 1] << 8) | moved[:, 2]
    return int(np.unique(packed, return_counts=True)[1].max()) < DRAWN_PIXELS


def log_scale(ax, x: bool = False, y: bool = False) -> None:
    """Put the x and/or y axis of ``ax`` on a log10 scale with minor ticks at 2 and 5 only.

    matplotlib's default log axis has a minor tick at every integer multiple of each
    decade; building and measuring those tick objects is most of the time a log-scaled
    figure takes to lay out and draw (a 12-panel log-log figure: about half).
    """
    for flag, axis, setter in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if flag:
            setter("log")
            # matplotlib's own minor formatter labels 2 and 5 only on short axes.
            axis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0)))


def palette(levels: Sequence[str]) -> dict[str, tuple]:
    """One colour per level (tab10, or tab20 above 10 levels)."""
    cmap = plt.get_cmap("tab10" if len(levels) <= 10 else "tab20")
    return {lvl: cmap(i % cmap.N) for i, lvl in enumerate(levels)}


def fmt_p(x) -> str:
    """A p-value or FDR for a figure label: 3 decimals, ``< 0.001`` or ``n.a.``."""
    if x is None or not np.isfinite(x):
        return "n.a."
    return "< 0.001" if x < 0.001 else f"{x:.3f}"
