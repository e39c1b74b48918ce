"""Rule snrna_qc_plots: nuclei kept and removed per sample, barcode-rank curves with the
empty-droplet range, contamination per sample, and the sex check (the per-sample figures
are rule snrna_qc_sample_plots)."""

from acc_tiam1 import io, plotting, sexcheck
from acc_tiam1.runner import run_rule
from acc_tiam1.snrna import plots


def main(smk):
    p = smk.params
    summaries = {}
    curves = {}
    for sample, summary, ranks in zip(p.samples, smk.input.summaries, smk.input.ranks, strict=True):
        summaries[sample] = io.read_tsv(summary, index_col=None).iloc[0].to_dict()
        curves[sample] = io.read_tsv(ranks, index_col=None)
    table = io.read_tsv(smk.input.table, index_col=None)
    plotting.save(plots.qc_overview(table), smk.output.overview)
    contamination = io.read_tsv(smk.input.contamination, index_col=None)
    rho = dict(zip(contamination["sample"], contamination["rho"], strict=True))
    plotting.save(plots.barcode_ranks(curves, summaries, rho), smk.output.barcode_ranks)
    if contamination["rho"].notna().any():
        fig = plots.contamination(contamination)
    else:
        fig = plotting.message_figure(
            "Ambient RNA contamination", "The ambient step is off (snrna.ambient.method: none)."
        )
    plotting.save(fig, smk.output.contamination)
    sex = io.read_tsv(smk.input.sex)
    plotting.save(sexcheck.plot_sex_check(sex, "Sex check (pseudobulk per animal)"), smk.output.sex)


run_rule(main, snakemake)
