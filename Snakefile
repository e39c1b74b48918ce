import os

from snakemake.utils import min_version

min_version("9.20")


# The demo study is the default; a user's --configfile replaces it rather than being
# merged into it, so that demo sections a user did not ask for never run.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The report's start page (workflow description) is written by rule report_start_page
# from this run's results: key findings and warnings first. Snakemake reads it when it
# renders the report, after the run.
START_PAGE = "results/report/start.rst"


report: os.path.abspath(START_PAGE)


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
include: "workflow/rules/reads.smk"
include: "workflow/rules/bulk.smk"
include: "workflow/rules/snrna.smk"
include: "workflow/rules/enrichment.smk"
include: "workflow/rules/rescue.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    default_target: True
    input:
        all_outputs(),
