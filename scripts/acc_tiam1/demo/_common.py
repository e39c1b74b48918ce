"""Genes shared by the bulk and single-nucleus demo.

Real symbols, sex and mitochondrial genes, base expression and dispersions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

#: Genes whose expression differs by sex in mouse brain.
FEMALE_GENES = ("Xist", "Tsix")


MALE_GENES = ("Ddx3y", "Eif2s3y", "Kdm5d", "Uty")


MITO_GENES = (
    "mt-Nd1",
    "mt-Nd2",
    "mt-Co1",
    "mt-Co2",
    "mt-Atp8",
    "mt-Atp6",
    "mt-Co3",
    "mt-Nd3",
    "mt-Nd4l",
    "mt-Nd4",
    "mt-Nd5",
    "mt-Nd6",
    "mt-Cytb",
)


HOUSEKEEPING_GENES = (
    "Actb",
    "Gapdh",
    "Tubb5",
    "Ppia",
    "Rplp0",
    "Hprt",
    "Tbp",
    "B2m",
    "Ywhaz",
    "Pgk1",
    "Snap25",
    "Syt1",
    "Slc17a7",
    "Satb2",
    "Neurod6",
    "Gad1",
    "Gad2",
    "Slc32a1",
    "Lhx6",
    "Meis2",
    "Pbx3",
    "Olig2",
    "Fezf2",
    "Camk2a",
)


CORE_MODULES = (
    "TIAM1_RAC1_A_UPSTREAM",
    "TIAM1_RAC1_B_GTPASE_SWITCH",
    "TIAM1_RAC1_C_ACTIN_EFFECTORS",
    "TIAM1_RAC1_D_PSD_SCAFFOLD",
)


ACTIVITY_MODULE = "KETAMINE_ACTIVITY_E_RESPONSE"


def demo_gene_universe(
    modules: Mapping[str, Sequence[str]], markers: Sequence[str], n_genes: int
) -> pd.DataFrame:
    """Gene ids, symbols and the module each real gene comes from.

    Parameters
    ----------
    modules
        Gene sets whose genes get real symbols (first module listing a gene wins).
    markers
        Cell-type marker symbols.
    n_genes
        Total number of genes; the rest are synthetic fillers.

    Returns
    -------
    Index ``gene_id`` (``DEMOG#########``), columns ``gene`` and ``module``.
    """
    rows: dict[str, str] = {}
    for name, genes in modules.items():
        for g in genes:
            rows.setdefault(g, name)
    for group, genes in (
        ("marker", markers),
        ("sex_female", FEMALE_GENES),
        ("sex_male", MALE_GENES),
        ("mitochondrial", MITO_GENES),
        ("housekeeping", HOUSEKEEPING_GENES),
    ):
        for g in genes:
            rows.setdefault(g, group)
    n_filler = max(n_genes - len(rows), 0)
    width = len(str(n_filler))
    for i in range(1, n_filler + 1):
        rows[f"Demo{i:0{max(width, 5)}d}"] = "filler"
    table = pd.DataFrame({"gene": list(rows), "module": list(rows.values())})
    table.index = pd.Index([f"DEMOG{i:09d}" for i in range(1, len(table) + 1)], name="gene_id")
    return table


def _base_log_means(genes: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    # Neuronal pathway and marker genes are well expressed in cortex; fillers span the
    # usual wide range, with a tail of barely detected genes.
    n = len(genes)
    log_mu = rng.normal(4.5, 1.8, n)
    real = genes["module"].ne("filler").to_numpy()
    log_mu[real] = rng.normal(6.3, 0.9, real.sum())
    mito = genes["module"].eq("mitochondrial").to_numpy()
    log_mu[mito] = rng.normal(8.5, 0.5, mito.sum())
    return log_mu


def _dispersions(mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # DESeq2's parametric trend plus log-normal scatter around it (inbred mice: a0 small).
    return (0.03 + 1.2 / mu) * np.exp(rng.normal(0.0, 0.4, mu.shape))


def _negative_binomial(mu: np.ndarray, dispersion: np.ndarray, rng) -> np.ndarray:
    # numpy parametrises NB by (n, p); DESeq2 by mean and dispersion (var = mu + a mu^2).
    n = 1.0 / dispersion
    p = n / (n + mu)
    return rng.negative_binomial(n, p)


def demo_modules(gmt_path: str | Path) -> dict[str, list[str]]:
    """The pathway modules the demo plants effects in, read from the bundled GMT.

    Parameters
    ----------
    gmt_path
        ``config/genesets/tiam1_rac1.gmt`` (or a file with the same set names).

    Returns
    -------
    dict
        ``{set name: genes}`` of the core modules (A-C, D) and the activity module (E).
    """
    from ..io import read_gmt

    keep = (*CORE_MODULES, ACTIVITY_MODULE)
    return {k: v for k, v in read_gmt(gmt_path).items() if k in keep}
