"""Methods text of the per-sample checks: ambient RNA and the sex of every animal."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ._text import _n, _plural, _span


def snrna_ambient_methods(ambient: Mapping, contamination: pd.DataFrame) -> str:
    """Methods paragraph of the ambient-RNA step of the single-nucleus branch.

    Parameters
    ----------
    ambient
        The ``snrna.ambient`` config section (keys left out take the defaults).
    contamination
        ``results/snrna/ambient/contamination.tsv``: one row per sample with ``rho``,
        ``soup_basis`` and the fitted ``beta``.

    Returns
    -------
    str
        The paragraph.
    """
    if ambient.get("method", "soup") == "none":
        return (
            "Ambient RNA was neither estimated nor removed (snrna.ambient.method: none); "
            "pseudobulk DE tested the counts as measured."
        )
    basis = contamination.get("soup_basis", pd.Series(dtype=str)).astype(str)
    n_drop = int((basis == "empty_droplets").sum())
    n_nuc = len(contamination) - n_drop
    soup = []
    if n_drop:
        soup.append(
            f"for {_plural(n_drop, 'sample')} from its empty droplets (the raw droplet "
            "matrix's droplets between 0 UMIs and the steepest drop of the barcode-rank "
            "curve after the called nuclei, as DropletUtils' barcodeRanks defines the "
            "inflection; SoupX's estimateSoup)"
        )
    if n_nuc:
        soup.append(
            f"for {_plural(n_nuc, 'sample')} without raw droplets from the pooled counts "
            "of its own nuclei (decontX's assumption that contamination comes from the "
            "sample's cells)"
        )
    rho = pd.to_numeric(contamination["rho"], errors="coerce")
    beta = pd.to_numeric(contamination.get("beta", pd.Series(dtype=float)), errors="coerce")
    return (
        "Ambient RNA (the lysate's free RNA captured in every droplet) was estimated and "
        "removed per sample. The soup profile was taken "
        + "; ".join(soup)
        + ". The contamination of each sample was estimated as SoupX's "
        "calculateContaminationFraction does (Young & Behjati 2020), from genes its "
        "annotated nuclei cannot express: the marker table's markers of one class in nuclei "
        "of another (neuronal markers in non-neuronal nuclei, glial markers in neurons, "
        "glutamatergic markers in GABAergic nuclei and the reverse), whose counts were "
        "modelled as Poisson with mean A_i times the soup fraction of those genes, A_i = "
        "a * UMIs_i^beta being the ambient UMIs of droplet i (beta between 0, a fixed "
        "amount per droplet, and 1, SoupX's proportional model, fitted by profile "
        f"likelihood; fitted beta {_span(beta, '{:.2f}')}). Genes and nuclei with more "
        "counts than the soup explains (at a Bonferroni level of 0.01, 1.25-fold) were left "
        "out and the fit repeated, as SoupX's estimateNonExpressingCells does; the interval "
        "is a bootstrap over nuclei. Estimated contamination (ambient share of the nuclei's "
        f"UMIs): {_span(rho, '{:.3f}')} per sample. The expected ambient counts were then "
        "subtracted from every nucleus' counts as SoupX's adjustCounts(method='subtraction') "
        "does, per cell type, with deterministic rounding (no count made negative or "
        "larger than observed); pseudobulk DE tested the corrected counts. Every pseudobulk "
        "DE table gives, per gene, the share of its counts in that cell type that the soup "
        "explains (ambient_fraction); a significant gene whose share is at least "
        f"{ambient.get('max_fraction', 0.5):g} is flagged mostly_ambient (at least as high "
        "in the soup reaching those nuclei as in the nuclei themselves)."
    )


def sex_check_methods(tables: Mapping[str, pd.DataFrame], mode: str) -> str:
    """Methods paragraph of the sex check of every animal.

    Parameters
    ----------
    tables
        ``{branch: sex-check table}`` (``results/bulk/qc/sex_check.tsv``,
        ``results/snrna/pseudobulk/sex_check.tsv``) with ``status``.
    mode
        The config's ``qc.sex_mismatch`` (``warn`` or ``error``).

    Returns
    -------
    str
        The paragraph.
    """
    parts = []
    for branch, table in tables.items():
        status = table["status"].astype(str)
        mism = table.index[status == "mismatch"].tolist()
        parts.append(
            f"{branch}: {_n((status == 'match').sum())} of {_n(len(table))} samples "
            f"matched the sheet, {_n((status == 'undetermined').sum())} undetermined"
            + (f", mismatching: {', '.join(map(str, mism))}" if mism else ", none mismatching")
        )
    action = (
        "stops the run" if mode == "error" else "is named in a warning in the log and the report"
    )
    return (
        "The sex of every animal was inferred from its counts (bulk counts; single-nucleus "
        "counts summed per animal) from Xist against the chrY genes Ddx3y, Eif2s3y, Uty and "
        "Kdm5d in counts per million: female when Xist was at least 5 CPM and 10-fold above "
        "the chrY genes with at least 10 counts, male when the chrY genes were at least 2 "
        "CPM and 10-fold above Xist with at least 10 counts, otherwise undetermined (never "
        f"a guess), and compared with the sample sheet's sex column; a mismatch {action} "
        f"(qc.sex_mismatch: {mode}). " + "; ".join(parts) + "."
    )
