"""Rule reads_multiqc: MultiQC over exactly the front end's logs."""

import logging
import subprocess
from pathlib import Path

from acc_tiam1 import reads
from acc_tiam1.runner import run_rule


def main(smk):
    files = list(smk.input)
    outdir = Path(smk.output.html).parent
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = reads.multiqc_command(
        files, str(outdir), str(outdir / "files.txt"), str(outdir / "multiqc_config.yaml")
    )
    logging.info("%s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    logging.info("%s", proc.stdout + proc.stderr)
    proc.check_returncode()


run_rule(main, snakemake)
