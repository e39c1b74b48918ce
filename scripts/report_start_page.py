"""Rule report_start_page: the report's start page, key findings and warnings first."""

from pathlib import Path

from acc_tiam1 import io, snrna, startpage
from acc_tiam1.runner import run_rule


def main(smk):
    inp = smk.input
    findings = []
    if "findings" in inp.keys():
        findings = Path(inp.findings).read_text().splitlines()
    warnings = []
    sex = {label: io.read_tsv(inp[key]) for key, label in smk.params.sex_tables.items()}
    warnings += startpage.sex_warnings(sex)
    if "snrna_summary" in inp.keys():
        warnings += startpage.ambient_warnings(io.read_tsv(inp.snrna_summary, index_col=None))
        warnings += startpage.annotation_warnings(
            io.read_tsv(inp.snrna_plan, index_col=None),
            snrna.read_annotation_warnings(inp.annotation_warnings),
        )
        warnings += startpage.integration_warnings(
            startpage.read_integration_info(inp.snrna_integration)
        )
    heatmaps = dict(zip(smk.params.heatmap_contrasts, inp.get("heatmaps", []), strict=True))
    page = startpage.start_page(findings, warnings, heatmaps)
    page += "\n" + Path(inp.description).read_text()
    io.write_text(page, smk.output.page)


run_rule(main, snakemake)
