"""The linear model of a DE fit as small tables, for tests that reuse it (CAMERA, TOST).

CAMERA and the set-score equivalence test fit the DE design to log-expression; they
need the design matrix DESeq2 fitted (samples x coefficients) and the contrast vectors
of the tested comparisons in its coefficients. Writing them next to the DE tables keeps
the enrichment and rescue jobs on exactly the model of the DE fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError

#: Columns of an equivalence table (:func:`equivalence_table`), in order.
EQUIVALENCE_COLUMNS = [
    "gene_id",
    "gene",
    "baseMean",
    "log2FoldChange",
    "lfcSE",
    "margin",
    "stat",
    "pvalue",
    "padj",
]


def design_table(dds) -> pd.DataFrame:
    """The fitted design matrix, samples x coefficients (pydeseq2's ``obsm``).

    Parameters
    ----------
    dds
        A fit from :func:`acc_tiam1.de.fit_deseq`.

    Returns
    -------
    pandas.DataFrame
        Float values, index ``sample``, one column per model coefficient.
    """
    design = pd.DataFrame(dds.obsm["design_matrix"]).astype(float)
    design.index = pd.Index(dds.obs_names, name="sample")
    return design


def contrast_vectors(dds, contrasts: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Contrast vectors in the fit's coefficients, one column per comparison.

    Parameters
    ----------
    dds
        A fit from :func:`acc_tiam1.de.fit_deseq`.
    contrasts
        ``{name: [variable, target, reference]}`` (or objects with ``as_pydeseq2()``).

    Returns
    -------
    pandas.DataFrame
        Index ``coefficient`` (the design's columns), one column of weights per name:
        ``dds.contrast(column=variable, baseline=reference, group_to_compare=target)``.
    """
    columns = list(dds.obsm["design_matrix"].columns)
    out = pd.DataFrame(index=pd.Index(columns, name="coefficient"))
    for name, spec in contrasts.items():
        variable, target, reference = (
            spec.as_pydeseq2() if hasattr(spec, "as_pydeseq2") else list(spec)
        )
        vector = dds.contrast(column=variable, baseline=reference, group_to_compare=target)
        out[name] = pd.Series(vector, dtype=float).reindex(columns).to_numpy()
    return out


def read_contrast(table: pd.DataFrame, name: str, design: pd.DataFrame) -> np.ndarray:
    """One contrast vector from a :func:`contrast_vectors` table, in the design's order.

    Parameters
    ----------
    table
        Contrast table (index ``coefficient``).
    name
        Column to read.
    design
        Design table (:func:`design_table`) the vector must match.

    Returns
    -------
    numpy.ndarray
        Weights in the order of ``design``'s columns.

    Raises
    ------
    InputError
        When the contrast is missing or its coefficients are not the design's.
    """
    if name not in table.columns:
        raise InputError(
            f"no contrast vector '{name}' in the DE model (have: {', '.join(table.columns)})."
        )
    if set(table.index) != set(design.columns):
        raise InputError(
            "the contrast vectors and the design matrix name different coefficients "
            f"({sorted(table.index)} vs {sorted(design.columns)})."
        )
    return table.loc[list(design.columns), name].to_numpy(dtype=float)


def equivalence_table(
    dds,
    contrast,
    margin: float,
    genes: pd.DataFrame,
    alpha: float = 0.1,
    cooks_filter: bool = True,
    independent_filter: bool = True,
) -> pd.DataFrame:
    """Per-gene equivalence test (:func:`acc_tiam1.de.gene_equivalence`) as a DE-style table.

    Parameters
    ----------
    dds
        A fit from :func:`acc_tiam1.de.fit_deseq`.
    contrast
        ``[variable, target, reference]``.
    margin
        Equivalence margin, log2 fold change.
    genes
        Index ``gene_id``, column ``gene`` (symbol).
    alpha, cooks_filter, independent_filter
        As in DESeq2's ``results()``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EQUIVALENCE_COLUMNS`, sorted by p-value (ties by gene id).
    """
    from ._equivalence import gene_equivalence
    from ._tables import sort_de_table

    table = gene_equivalence(
        dds,
        contrast,
        margin,
        alpha=alpha,
        cooks_filter=cooks_filter,
        independent_filter=independent_filter,
    )
    table = table.join(genes["gene"]).reset_index()
    return sort_de_table(table[EQUIVALENCE_COLUMNS])


def untested_equivalence() -> pd.DataFrame:
    """An equivalence table with the standard columns and no genes (contrast not tested)."""
    return pd.DataFrame(columns=EQUIVALENCE_COLUMNS)
