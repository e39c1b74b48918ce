"""Shared figure helpers (acc_tiam1.plotting) and the DE figures' gene labels."""

from io import BytesIO

import numpy as np
import pandas as pd
from acc_tiam1 import plotting
from acc_tiam1.de import plots as de_plots
from acc_tiam1.plotting import plt
from matplotlib.text import Text
from PIL import Image


def _de_table(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    lfc = rng.normal(0, 0.4, n)
    lfc[:40] += 1.5  # a block of strong, similar genes: labels that must be pushed apart
    pvalue = np.clip(np.exp(-np.abs(lfc) * 8 + rng.normal(0, 0.3, n)), 1e-30, 1)
    table = pd.DataFrame(
        {
            "gene_id": [f"G{i:05d}" for i in range(n)],
            "gene": [f"Gene{i}" for i in range(n)],
            "baseMean": rng.lognormal(5, 1.5, n),
            "log2FoldChange": lfc,
            "log2FoldChange_shrunk": lfc * 0.8,
            "pvalue": pvalue,
            "padj": np.minimum(pvalue * n / (np.argsort(np.argsort(pvalue)) + 1), 1),
        }
    )
    return table.sort_values("pvalue").reset_index(drop=True)


def test_log_scale_keeps_minor_ticks_at_2_and_5_only():
    fig, ax = plt.subplots()
    ax.plot([1, 1e4], [1, 2])
    plotting.log_scale(ax, x=True)
    fig.canvas.draw()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    minor = [t for t in ax.xaxis.get_minorticklocs() if 1 <= t <= 1e4]
    mantissas = sorted({round(t / 10 ** np.floor(np.log10(t)), 6) for t in minor})
    assert mantissas == [2.0, 5.0]
    # Over four decades the minor ticks carry no labels; over one, they do.
    assert all(label.get_text() == "" for label in ax.xaxis.get_minorticklabels())
    ax.set_xlim(100, 900)
    fig.canvas.draw()
    assert "$\\mathdefault{2\\times10^{2}}$" in {
        t.get_text() for t in ax.xaxis.get_minorticklabels()
    }
    plt.close(fig)


def test_save_writes_a_palette_png_without_metadata(tmp_path):
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], color=plotting.UP)
    path = tmp_path / "f.png"
    plotting.save(fig, path)
    with Image.open(path) as image:
        assert image.mode == "P"
        assert "Software" not in image.info
    assert not list(tmp_path.glob(".*tmp"))  # the temporary file is gone


def _dense_umap(n=60_000, n_types=22, seed=0):
    """A cell-type UMAP drawn as at 100k nuclei: sub-pixel points in many colours."""
    from acc_tiam1.snrna import plots

    rng = np.random.default_rng(seed)
    types = rng.integers(0, n_types, n)
    centres = rng.uniform(-10, 10, (n_types, 2))
    xy = centres[types] + rng.normal(0, 1.2, (n, 2)) * rng.uniform(0.3, 1.5, n_types)[types, None]
    labels = pd.Series(pd.Categorical([f"type {t:02d}" for t in types]))
    levels = list(labels.cat.categories)
    return plots.umap_categorical(xy, labels, "Cell types"), plots.palette(levels)


def test_save_keeps_every_drawn_colour_of_a_dense_scatter(tmp_path):
    """Median cut alone moved some cell types' colours of such a figure by up to 64 of
    255 (two types to one colour); the saved picture keeps each where it is drawn pure."""
    fig, colours = _dense_umap()
    drawn = np.asarray(plotting._tight_image(fig, plotting.DPI).convert("RGB"), dtype=int)
    plotting.save(fig, tmp_path / "umap.png")  # draws it again, and closes it
    with Image.open(tmp_path / "umap.png") as image:
        assert image.mode == "P"  # a palette that keeps the colours exists (fast octree)
        saved = np.asarray(image.convert("RGB"), dtype=int)
    assert saved.shape == drawn.shape
    for level, colour in colours.items():
        pure = (drawn == np.round(np.asarray(colour[:3]) * 255)).all(axis=2)
        assert pure.sum() >= plotting.DRAWN_PIXELS, level  # its legend marker at least
        moved = np.abs(saved[pure] - drawn[pure]).max()
        assert moved <= plotting.COLOUR_TOLERANCE, (level, moved)


def test_a_picture_no_palette_can_keep_is_saved_in_true_colour():
    """400 far-apart colours in 5 x 5 blocks: no 256 colours keep them all."""
    rng = np.random.default_rng(1)
    colours = rng.integers(0, 256, (400, 3)).astype(np.uint8)
    pixels = np.repeat(np.repeat(colours.reshape(20, 20, 3), 5, axis=0), 5, axis=1)
    out = BytesIO()
    plotting._palette_png(Image.fromarray(pixels), out)
    with Image.open(out) as image:
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), pixels)


def _matplotlib_tight(fig):
    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=plotting.DPI, bbox_inches="tight", pad_inches=0.1)
    return np.asarray(Image.open(buffer).convert("RGB"), dtype=int)


def test_save_draws_the_picture_of_a_tight_savefig():
    """One draw and a crop give matplotlib's ``bbox_inches="tight"`` picture, also for a
    figure whose title runs past its edges (grown canvas, not cropped)."""
    table = _de_table()
    titles = {"inside": "pain vs sham", "past the edges": "a very long title " * 6}
    for where, title in titles.items():
        ours = np.asarray(
            plotting._tight_image(de_plots.volcano(table, title), plotting.DPI).convert("RGB"),
            dtype=int,
        )
        fig = de_plots.volcano(table, title)
        theirs = _matplotlib_tight(fig)
        plt.close("all")
        assert ours.shape == theirs.shape, where
        # The short title fits: the picture is cropped inside the 6-inch figure.
        assert (ours.shape[1] < 6 * plotting.DPI) == (where == "inside")
        # Identical but for rounding in a few anti-aliased pixels.
        assert (np.abs(ours - theirs).max(axis=2) > 2).mean() < 1e-4, where


def test_save_narrows_a_margin_that_would_leave_the_figure():
    """Text ending 0.03 in from the right edge: cropped at the edge, not drawn again on a
    grown canvas, and none of the text is lost."""
    fig = plt.figure(figsize=(3, 2))
    fig.text(0.99, 0.5, "right-aligned text", ha="right", fontsize=12)
    pixels = np.asarray(plotting._tight_image(fig, plotting.DPI).convert("L"))
    plt.close(fig)
    assert pixels.shape[1] < 3 * plotting.DPI  # cropped on the left, not grown
    ink = np.flatnonzero((pixels < 128).any(axis=0))
    assert pixels.shape[1] - 1 - ink.max() <= 0.03 * plotting.DPI + 1  # the edge is kept
    assert ink.min() >= plotting.PAD * plotting.DPI - 1  # the text's start keeps its margin


def _label_boxes(fig):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    texts = [t for t in ax.texts if t.get_text()]
    # The label's own box: an Annotation's extent also covers its leader line.
    return texts, [Text.get_window_extent(t, renderer) for t in texts]


def test_volcano_and_ma_labels_do_not_overlap():
    table = _de_table()
    for fig in (
        de_plots.volcano(table, "pain vs sham", 0.05, 0.0, 15, ["Gene1999"]),
        de_plots.ma(table, "pain vs sham", 0.05, 15, ["Gene1999"]),
    ):
        texts, boxes = _label_boxes(fig)
        # The 15 most significant genes plus the highlighted one, each labelled once.
        assert len(texts) == 16
        assert "Gene1999" in {t.get_text() for t in texts}
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
                overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
                # Boxes may touch (rounding), labels must not sit on each other.
                assert overlap_x <= 1 or overlap_y <= 1, (a, b)
        plt.close(fig)


def test_labels_near_the_right_edge_go_left_of_their_point():
    table = _de_table()
    table.loc[0, "log2FoldChange"] = table["log2FoldChange"].max() + 1  # the rightmost point
    fig = de_plots.volcano(table, "pain vs sham", label_top=15)
    texts, boxes = _label_boxes(fig)
    right = fig.axes[0].bbox.x1
    assert all(box.x1 <= right + 1 for box in boxes)
    label = next(t for t in texts if t.get_text() == table.loc[0, "gene"])
    assert label.get_horizontalalignment() == "right"
    plt.close(fig)


def test_stacked_histogram_matches_matplotlib_hist():
    from acc_tiam1.snrna.plots import _stacked_hist

    rng = np.random.default_rng(1)
    groups = [rng.normal(3.5, 0.3, 900), rng.normal(3.0, 0.4, 80)]
    fig, (ours, theirs) = plt.subplots(1, 2)
    _stacked_hist(ours, [*groups[:1], np.append(groups[1], np.nan)], 50, ["b", "r"], ["a", "b"])
    heights, edges, _ = theirs.hist(groups, bins=50, stacked=True)
    steps = [p.get_data() for p in ours.patches]
    for step, expected in zip(steps, heights, strict=True):
        np.testing.assert_allclose(step.edges, edges)
        np.testing.assert_allclose(step.values, expected)  # stacked: the running total
    np.testing.assert_allclose(steps[1].baseline, steps[0].values)
    plt.close(fig)
