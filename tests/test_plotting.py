"""Shared figure helpers (acc_tiam1.plotting) and the DE figures' gene labels."""

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
