"""Rule snrna_pathway_plots: per-animal pathway genes and gene-set scores by cell type."""

from acc_tiam1 import io, plotting
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    table = io.read_tsv(smk.input.table, index_col=None)
    markers = io.read_markers(smk.input.markers)
    types = list(markers["cell_type"])
    group = smk.params.colour_by
    levels = list(dict.fromkeys(table[group].astype(str))) if len(table) else []
    table[group] = table[group].astype(str)
    genes = [g for g in smk.params.genes if (table["feature"] == g).any()]
    sets = list(dict.fromkeys(table.loc[table["kind"] == "gene set", "feature"]))
    plotting.save(
        plots.per_animal(
            table,
            genes,
            types,
            group,
            levels,
            "log2(CPM + 1), pseudobulk",
            "Pathway genes per animal and cell type",
        ),
        smk.output.genes,
    )
    plotting.save(
        plots.per_animal(
            table,
            sets,
            types,
            group,
            levels,
            "mean z of log2 CPM",
            "Gene-set scores per animal and cell type",
            zero_line=True,
        ),
        smk.output.sets,
    )


run_rule(main, snakemake)
