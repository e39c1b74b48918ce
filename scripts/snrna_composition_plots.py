"""Rule snrna_composition_plots: composition per sample and proportions per animal."""

from acc_tiam1 import io, plotting
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    counts = io.read_tsv(smk.input.counts)
    counts.index = counts.index.astype(str)
    counts = counts.loc[:, counts.sum() > 0]
    tests = io.read_tsv(smk.input.tests, index_col=None)
    sheet = io.read_sample_sheet(smk.input.samples)
    groups = sheet.loc[counts.index, smk.params.colour_by]
    props = counts.div(counts.sum(axis=1), axis=0)
    plotting.save(
        plots.composition_bars(props, groups, "Cell-type composition per sample"), smk.output.bars
    )
    levels = list(dict.fromkeys(sheet[smk.params.colour_by]))
    plotting.save(plots.composition_strips(props, groups, levels, tests), smk.output.strips)


run_rule(main, snakemake)
