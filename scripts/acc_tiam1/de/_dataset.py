"""Everything one DE job writes for one dataset (bulk, or one pseudobulk cell type).

A dataset is fitted once (:func:`fit_deseq`) and every contrast it can test is a Wald
test on that fit. Contrasts it cannot test get a table with the standard columns and no
genes, so that every configured (dataset, contrast) has a table; the pseudobulk plan
says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from .. import io
from ..design import make_coldata
from ._fit import fit_deseq, normalized_counts
from ._model import contrast_vectors, design_table, equivalence_table, untested_equivalence
from ._tables import contrast_table, untested_table

#: Output names of :class:`DatasetResult` besides the per-contrast tables.
MODEL_OUTPUTS = ("normalized", "design", "contrasts", "equivalence")


@dataclass
class DatasetResult:
    """The DE results of one dataset, as written next to each other.

    Attributes
    ----------
    tables
        ``{contrast name: DE table}`` for every configured contrast, in config order.
    normalized
        Normalised counts, genes x samples (gene symbols first).
    design
        Fitted design matrix (:func:`design_table`).
    contrasts
        Contrast vectors of the tested comparisons (:func:`contrast_vectors`).
    equivalence
        The equivalence test's table (columns only when it was not run).
    """

    tables: dict[str, pd.DataFrame]
    normalized: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["gene"], index=pd.Index([], name="gene_id"))
    )
    design: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(index=pd.Index([], name="sample"))
    )
    contrasts: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(index=pd.Index([], name="coefficient"))
    )
    equivalence: pd.DataFrame = field(default_factory=untested_equivalence)

    def write(self, tables: Sequence[str], model: Mapping[str, str]) -> None:
        """Write every file of the dataset.

        Parameters
        ----------
        tables
            One path per contrast, in the order of :attr:`tables`.
        model
            Paths of the other files, keys :data:`MODEL_OUTPUTS`.
        """
        for table, path in zip(self.tables.values(), tables, strict=True):
            io.write_tsv(table, path, index=False)
        io.write_tsv(self.normalized, model["normalized"])
        io.write_tsv(self.design, model["design"])
        io.write_tsv(self.contrasts, model["contrasts"])
        io.write_tsv(self.equivalence, model["equivalence"], index=False)


def untested_dataset(contrast_names: Sequence[str]) -> DatasetResult:
    """The result of a dataset that tests nothing: every file has its columns, no rows."""
    return DatasetResult(tables={name: untested_table() for name in contrast_names})


def fit_dataset(
    counts: pd.DataFrame,
    genes: pd.DataFrame,
    samples: pd.DataFrame,
    design: str,
    tested: Sequence,
    contrast_names: Sequence[str],
    settings: Mapping,
    equivalence: Mapping | None = None,
    annotate: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    label: str = "",
) -> DatasetResult:
    """Fit one dataset and test each of its contrasts (and the equivalence comparison).

    Parameters
    ----------
    counts, genes
        Raw counts (genes x samples) and their symbols, as from
        :func:`acc_tiam1.io.read_prepared_counts`.
    samples, design
        Sample sheet (indexed by sample; every column of ``counts`` in it) and design
        formula.
    tested
        The contrasts this dataset tests (:class:`acc_tiam1.design.Contrast`); they set
        the reference levels of the fit (:func:`acc_tiam1.design.make_coldata`). The
        other names of ``contrast_names`` get untested tables.
    contrast_names
        Every configured contrast, in config order.
    settings
        The config's ``de`` section: ``alpha``, ``cooks_filter``, ``independent_filter``,
        ``lfc_shrink``, ``min_replicates_for_replace``.
    equivalence
        The equivalence comparison (``name``, ``variable``, ``target``, ``reference``,
        ``margin``, ``requires``), run when every contrast of ``requires`` is tested.
    annotate
        Applied to each tested table before it is returned (pseudobulk: the ambient
        flags of :func:`acc_tiam1.snrna.flag_mostly_ambient`).
    label
        Dataset name for the log.

    Returns
    -------
    DatasetResult
    """
    alpha = settings["alpha"]
    coldata = make_coldata(samples.loc[counts.columns], design, tested)
    references = {c: str(coldata[c].cat.categories[0]) for c in coldata.columns}
    logging.info("%s: design %s; reference levels: %s", label, design, references)
    dds = fit_deseq(counts, coldata, design, min_replicates=settings["min_replicates_for_replace"])
    logging.info("%s: size factors: %s", label, dds.obs["size_factors"].round(4).to_dict())
    by_name = {c.name: c for c in tested}
    symbols = genes.loc[dds.var_names]
    tables = {}
    for name in contrast_names:
        if name not in by_name:
            tables[name] = untested_table()
            continue
        table = contrast_table(
            dds,
            by_name[name],
            symbols,
            alpha=alpha,
            cooks_filter=settings["cooks_filter"],
            independent_filter=settings["independent_filter"],
            shrink=settings["lfc_shrink"],
        )
        tables[name] = annotate(table) if annotate is not None else table
        n = int((tables[name]["padj"] < alpha).sum())
        logging.info("%s: %s: %d genes with padj < %g", label, name, n, alpha)
    model = dict(by_name)
    result = DatasetResult(tables=tables, normalized=normalized_counts(dds, genes))
    eq = equivalence
    if eq and all(name in by_name for name in eq["requires"]):
        spec = [eq["variable"], eq["target"], eq["reference"]]
        model[eq["name"]] = spec
        result.equivalence = equivalence_table(
            dds,
            spec,
            eq["margin"],
            symbols,
            alpha=alpha,
            cooks_filter=settings["cooks_filter"],
            independent_filter=settings["independent_filter"],
        )
        n = int((result.equivalence["padj"] < alpha).sum())
        logging.info(
            "%s: %s: %d genes equivalent (|log2FC| < %g, padj < %g)",
            label,
            eq["name"],
            n,
            eq["margin"],
            alpha,
        )
    elif eq:
        needs = " and ".join(eq["requires"])
        logging.info("%s: %s not tested (needs %s)", label, eq["name"], needs)
    result.design = design_table(dds)
    result.contrasts = contrast_vectors(dds, model)
    return result
