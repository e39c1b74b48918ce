"""Key findings: one line per dataset and focus set, in a table, sentences and an HTML page.

The calls come from the gene-set rescue tables (:func:`acc_tiam1.rescue.pathway_rescue`):
for focus sets, CAMERA with the FDR across datasets (pain effect, ketamine reversal) and
the set-score equivalence test (fully vs partially rescued). The sentences
(:func:`findings_summary`) are plain text for the report's first page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ._equivalence import RESCUE_CLASSES

#: Columns of the key-findings table (:func:`key_findings`), without the interaction ones.
FINDINGS_COLUMNS = [
    "dataset",
    "gene_set",
    "source",
    "pain",
    "NES_pain",
    "FDR_pain",
    "ketamine",
    "NES_ketamine",
    "FDR_ketamine",
    "rescue",
    "equivalence_effect",
    "equivalence_margin",
    "equivalence_FDR",
    "reversed_by_ketamine",
    "test",
]

#: What each rescue class says about the reversal, in the key-findings table.
REVERSED_TEXT = {
    "fully_rescued": "yes, fully rescued",
    "partially_rescued": "yes, partially rescued",
    "not_rescued": "no",
    "aggravated": "no (ketamine same direction)",
    "inconclusive": "no (inconclusive)",
    "ketamine_only": "n/a (no pain effect)",
    "unchanged": "n/a (no pain effect)",
    "not_tested": "n/a (not tested)",
}


def key_findings(
    pathways: Mapping[str, pd.DataFrame],
    focus: Sequence[str],
    fdr: float,
    interaction: Mapping[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """One row per dataset and focus gene set: pain effect, reversal, rescue class.

    Parameters
    ----------
    pathways
        ``{dataset label: pathway_rescue table}``, bulk first, then cell types.
    focus
        Gene-set names (terms) to report, in order.
    fdr
        Threshold of the calls (as used for the rescue tables).
    interaction
        ``{dataset label: enrichment table of the surgery x drug interaction}`` (GSEA
        and CAMERA columns), if fitted; its call is CAMERA's FDR within the table.

    Returns
    -------
    pandas.DataFrame
        :data:`FINDINGS_COLUMNS` (``pain`` and ``ketamine``: ``up``, ``down``, ``n.s.``
        or ``not tested``; NES from GSEA; FDR the calls' FDR; ``rescue`` the class;
        ``test`` which tests and thresholds made the calls), the interaction's
        ``interaction``, ``NES_interaction``, ``FDR_interaction`` when given, and
        ``note``. A focus set missing from a dataset's results gets a row with a note.
    """
    rows = []
    interaction = interaction or {}
    for label, table in pathways.items():
        for name in focus:
            hits = table[table["term"] == name]
            if hits.empty:
                rows.append(
                    {
                        "dataset": label,
                        "gene_set": name,
                        "note": "gene set not in the results of this dataset",
                    }
                )
                continue
            for _, r in hits.iterrows():
                tested = bool(r["tested_pain"]) and bool(r["tested_ketamine"])
                row = {
                    "dataset": label,
                    "gene_set": name,
                    "source": r["source"],
                    "pain": _call(r["camera_pain"], r["FDR_pain"], tested, fdr),
                    "NES_pain": r["NES_pain"],
                    "FDR_pain": r["FDR_pain"],
                    "ketamine": _call(r["camera_ketamine"], r["FDR_ketamine"], tested, fdr),
                    "NES_ketamine": r["NES_ketamine"],
                    "FDR_ketamine": r["FDR_ketamine"],
                    "rescue": r["class"],
                    "equivalence_effect": r["equivalence_effect"],
                    "equivalence_margin": r["equivalence_margin"],
                    "equivalence_FDR": r["equivalence_FDR"],
                    "reversed_by_ketamine": REVERSED_TEXT[r["class"]],
                    "test": r["test"],
                    "note": "",
                }
                if not tested:
                    row["note"] = (
                        f"not tested: {_int(r['genes_found_pain'])} genes found "
                        "(below enrichment.min_size?)"
                    )
                inter = interaction.get(label)
                if inter is not None:
                    m = inter[(inter["term"] == name) & (inter["source"] == r["source"])]
                    if len(m):
                        m = m.iloc[0]
                        row["interaction"] = _call(
                            m["camera_direction"], m["camera_FDR"], bool(m["tested"]), fdr
                        )
                        row["NES_interaction"] = m["NES"]
                        row["FDR_interaction"] = m["camera_FDR"]
                rows.append(row)
    cols = list(FINDINGS_COLUMNS)
    if interaction:
        cols += ["interaction", "NES_interaction", "FDR_interaction"]
    return pd.DataFrame(rows).reindex(columns=[*cols, "note"])


def _int(x) -> str:
    return "?" if pd.isna(x) else str(int(x))


def _call(direction, fdr_value, tested, fdr: float) -> str:
    if not tested or pd.isna(fdr_value):
        return "not tested"
    if fdr_value < fdr and direction in ("up", "down"):
        return str(direction)
    return "n.s."


def findings_summary(
    findings: pd.DataFrame, fdr: float = 0.05, reference: str = "sham"
) -> list[str]:
    """Plain sentences summarising a key-findings table, one per focus gene set.

    E.g. "TIAM1_RAC1_CORE_ABC is up in pain in snRNA L2/3 IT and snRNA L5 ET (CAMERA,
    FDR across datasets < 0.05) and reversed by ketamine in both (partially rescued:
    equivalence to sham not shown at margin 1.7 SD)."

    Parameters
    ----------
    findings
        Output of :func:`key_findings`.
    fdr
        Threshold of the calls.
    reference
        The control level of the equivalence test.

    Returns
    -------
    list of str
        One sentence per focus set, in the table's order.
    """
    lines = []
    for name, sub in findings.groupby("gene_set", sort=False):
        tested = sub[sub["pain"].isin(["up", "down", "n.s."])]
        if tested.empty:
            lines.append(f"{name} was not tested in any dataset (too few genes found).")
            continue
        test = f"CAMERA, FDR across datasets < {fdr:g}"
        up = tested.loc[tested["pain"] == "up", "dataset"].tolist()
        down = tested.loc[tested["pain"] == "down", "dataset"].tolist()
        only = tested.loc[tested["rescue"] == "ketamine_only", "dataset"].tolist()
        if not up and not down:
            text = (
                f"{name} is not changed in pain in any of the {_count(len(tested))} tested ({test})"
            )
        else:
            changes = [
                f"{word} in pain in {_names(ds)}" for word, ds in (("up", up), ("down", down)) if ds
            ]
            changed = tested[tested["pain"].isin(["up", "down"])]
            margin = _margin(changed)
            clauses = [
                _clause(cls, _where(ds, len(changed)), margin, reference)
                for cls in RESCUE_CLASSES
                if (ds := changed.loc[changed["rescue"] == cls, "dataset"].tolist())
            ]
            text = f"{name} is {' and '.join(changes)} ({test})"
            if clauses:
                text += " and " + "; ".join(c for c in clauses if c)
        if only:
            text += f"; ketamine changes it without a pain effect in {_names(only)}"
        lines.append(text + ".")
    return lines


def _clause(cls: str, where: str, margin: float | None, reference: str) -> str:
    at = f"at margin {margin:g} SD" if margin is not None else ""
    if cls == "fully_rescued":
        return (
            f"reversed by ketamine {where}, back at {reference} level (fully rescued: "
            f"equivalence to {reference} shown {at})"
        )
    if cls == "partially_rescued":
        why = f"not shown {at}" if margin is not None else "not tested"
        return f"reversed by ketamine {where} (partially rescued: equivalence to {reference} {why})"
    if cls == "not_rescued":
        return f"not reversed by ketamine {where}"
    if cls == "aggravated":
        return f"changed further in the same direction by ketamine {where}"
    if cls == "inconclusive":
        return (
            f"inconclusive {where} (equivalent to {reference} {at}, but the reversal is "
            "not significant)"
        )
    return ""


def _margin(table: pd.DataFrame) -> float | None:
    values = pd.to_numeric(table["equivalence_margin"], errors="coerce").dropna()
    return float(values.iloc[0]) if len(values) else None


def _where(datasets: Sequence[str], n_changed: int) -> str:
    if len(datasets) == n_changed:
        return {1: "there", 2: "in both"}.get(n_changed, f"in all {n_changed}")
    return f"in {_names(datasets)}"


def _count(n: int) -> str:
    return "the one dataset" if n == 1 else f"{n} datasets"


def _names(items: Sequence[str]) -> str:
    items = list(items)
    if not items:
        return "none"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def coverage_notes(coverage: pd.DataFrame, max_listed_source: int = 30) -> list[str]:
    """Notes on gene sets that were not tested in some dataset.

    Parameters
    ----------
    coverage
        Output of :func:`acc_tiam1.enrichment.coverage_table` (plus ``min_size`` known to
        the caller: a set counts as untested where its dataset column is below the set's
        tested threshold, which the table records as ``tested_in`` < number of datasets).
    max_listed_source
        Sources with at most this many sets have their untested sets named one by one;
        larger collections (MSigDB) get a count.
    """
    datasets = [c for c in coverage.columns if c not in ("source", "term", "set_size", "tested_in")]
    notes = []
    for source, sub in coverage.groupby("source", sort=False):
        untested = sub[sub["tested_in"] < len(datasets)]
        if untested.empty:
            continue
        if len(sub) <= max_listed_source:
            for _, r in untested.iterrows():
                found = ", ".join(f"{d}: {int(r[d])}" for d in datasets)
                notes.append(
                    f"{r['term']} ({source}, {int(r['set_size'])} genes) was not "
                    f"tested in every dataset; genes found: {found}."
                )
        else:
            zero = int((sub[datasets].max(axis=1) == 0).sum())
            notes.append(
                f"{len(untested)} of {len(sub)} sets of {source} were not tested in "
                f"at least one dataset (too few or too many genes found); {zero} have "
                "no gene in any dataset. See the gene-set coverage table."
            )
    return notes


def key_findings_html(
    findings: pd.DataFrame,
    summary: Sequence[str],
    counts: pd.DataFrame,
    notes: Sequence[str],
    settings: Mapping[str, str],
) -> str:
    """The key-findings page of the report (self-contained HTML).

    Parameters
    ----------
    findings
        Output of :func:`key_findings`.
    summary
        Sentences (:func:`findings_summary`).
    counts
        Genes per rescue class (rows: datasets).
    notes
        Warnings to show (untested sets and the like).
    settings
        ``{name: value}`` of the settings the findings depend on.
    """
    colours = {"up": "#f4cccc", "down": "#cfe2f3", "yes": "#d9ead3", "no": "#fce5cd"}

    def cell(value, column=""):
        if pd.isna(value):
            text = ""
        elif isinstance(value, float) and "FDR" in column and value < 0.001:
            text = "< 0.001"
        elif isinstance(value, float):
            text = f"{value:.3g}"
        else:
            text = str(value)
        colour = colours.get(text) or colours.get(text.split(",")[0].split(" ")[0], "")
        style = f' style="background:{colour}"' if colour else ""
        return f"<td{style}>{_escape(text)}</td>"

    def table(df):
        head = "".join(f"<th>{_escape(str(c))}</th>" for c in df.columns)
        body = "".join(
            "<tr>"
            + "".join(cell(v, str(c)) for v, c in zip(row, df.columns, strict=True))
            + "</tr>"
            for row in df.itertuples(index=False)
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Key findings</title>",
        "<style>body{font-family:sans-serif;font-size:13px;margin:1em}"
        "table{border-collapse:collapse;margin:0.5em 0}"
        "td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}"
        "th{background:#eee}li{margin:0.2em 0}</style></head><body>",
        "<h2>Key findings</h2><ul>",
        *[f"<li>{_escape(s)}</li>" for s in summary],
        "</ul><h3>Focus gene sets per dataset</h3>",
        *_table_with_tests(_drop_empty_notes(findings), table),
        "<h3>Genes per rescue class</h3>",
        table(counts),
    ]
    if notes:
        parts += ["<h3>Notes</h3><ul>", *[f"<li>{_escape(n)}</li>" for n in notes], "</ul>"]
    parts += [
        "<h3>Settings</h3><ul>",
        *[f"<li>{_escape(k)}: {_escape(str(v))}</li>" for k, v in settings.items()],
        "</ul></body></html>",
    ]
    return "\n".join(parts)


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _table_with_tests(df: pd.DataFrame, table) -> list[str]:
    # One "test" text for every row: said once under the table instead of in each row.
    tests = df["test"].dropna().unique() if "test" in df else []
    if len(tests) != 1:
        return [table(df)]
    return [table(df.drop(columns="test")), f"<p>Calls: {_escape(str(tests[0]))}.</p>"]


def _drop_empty_notes(df: pd.DataFrame) -> pd.DataFrame:
    if "note" in df and df["note"].fillna("").eq("").all():
        return df.drop(columns="note")
    return df


def class_count_matrix(counts: pd.DataFrame) -> pd.DataFrame:
    """Genes per rescue class and dataset, one row per dataset (for the key-findings page).

    Parameters
    ----------
    counts
        Class-count tables of every branch stacked (:func:`acc_tiam1.rescue.class_counts`
        with a ``dataset`` column).

    Returns
    -------
    pandas.DataFrame
        ``dataset`` and one integer column per class of :data:`RESCUE_CLASSES`.
    """
    if not len(counts):
        return counts
    return (
        counts.pivot_table(
            index="dataset", columns="class", values="all_genes", aggfunc="sum", sort=False
        )
        .reindex(columns=RESCUE_CLASSES)
        .fillna(0)
        .astype(int)
        .reset_index()
    )


def findings_settings(
    pain_contrast: str,
    ketamine_contrast: str,
    fdr: float,
    rescue: Mapping,
    interaction_coefficient: str | None = None,
    across: str = "Benjamini-Bogomolov",
    equivalence: Mapping | None = None,
) -> dict[str, str]:
    """The rules behind the key findings, in words, for the key-findings page.

    Parameters
    ----------
    pain_contrast, ketamine_contrast
        Names of the pain and the ketamine contrast.
    fdr
        Threshold of the gene-set calls.
    rescue
        The config's ``rescue`` section (``padj``, ``gene_margin``, ``set_margin``,
        ``interaction``).
    interaction_coefficient
        The surgery x drug coefficient, when the interaction is fitted.
    across
        Name of the across-dataset procedure.
    equivalence
        The equivalence comparison (``target``, ``reference``), or None.

    Returns
    -------
    dict
        ``{setting: description}``, in display order.
    """
    r = rescue
    if equivalence:
        eq = f"{equivalence['target']} vs {equivalence['reference']}"
        set_eq = (
            f"fully rescued: equivalence of the set score shown for {eq} (two one-sided "
            f"t tests, margin {r['set_margin']:g} residual SD, FDR < {fdr:g}); partially "
            "rescued: reversal without it"
        )
        gene_eq = (
            f"fully rescued: DESeq2 lessAbs test of {eq}, |log2FC| < {r['gene_margin']:g}, "
            f"padj < {r['padj']:g}"
        )
    else:
        set_eq = gene_eq = "equivalence not tested (contrasts on different variables)"
    settings = {
        "pain effect": pain_contrast,
        "ketamine effect": ketamine_contrast,
        "focus set up / down": (
            f"CAMERA (limma moderated t, inter-gene correlation estimated), FDR across "
            f"datasets ({across}) < {fdr:g}; direction from CAMERA; NES from GSEA"
        ),
        "reversed": f"the same call in {ketamine_contrast}, opposite direction",
        "gene-set rescue": set_eq,
        "gene classes": (
            f"pain effect and reversal: DESeq2 padj < {r['padj']:g}; {gene_eq}; "
            "reversal_fraction (share of the pain log2FC ketamine undoes) is descriptive"
        ),
    }
    if interaction_coefficient:
        settings["interaction"] = (
            f"{r['interaction']['design']}, coefficient {interaction_coefficient}, CAMERA "
            f"FDR < {fdr:g} (down: ketamine lowers the set more in pain than in sham "
            "animals)"
        )
    return settings
