"""Helpers shared by the benchmark scripts (not a benchmark itself).

- the machine: CPU model, cores, RAM (:func:`machine_info`), its load average, and
  whether a SLURM client without a controller slows every Snakemake start
  (:func:`slurm_plugin_seconds`);
- :func:`run_measured`: a subprocess's wall time and peak resident memory (the largest
  single process of its tree, from ``wait4``), independent of what else this process ran;
- :class:`MemorySampler`: summed resident memory of a process tree over time, and the
  load average at each sample (to look up the load at any moment of a run);
- the result file every stage script writes and ``run_all.py`` reads.

Result file (JSON)::

    {"script": "bulk_de_benchmark.py", "machine": {...}, "started": "...", "finished": "...",
     "rows": [ROW, ...], "details": {...}}

Each ROW is one line of the consolidated table (``None`` where not measured):

``stage``, ``size``
    e.g. ``"bulk DE"``, ``"12 samples x 30000 genes"``;
``ours_s``, ``ours_peak_mb``
    our wall time (s) and peak resident memory (MB);
``reference``, ``ref_s``, ``ref_peak_mb``
    the reference tool, its wall time and peak memory;
``agreement``
    short text, e.g. ``"Spearman stat 1.0000; Jaccard padj<0.1 1.000"``;
``load_start``, ``load_end``
    1-minute load average when the stage started and ended;
``note``
    what the numbers include.

``details`` holds each script's own tables (per rule, per cell type, ...).
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psutil

#: Where stage scripts write their result file when not told otherwise.
DEFAULT_RESULTS = Path(tempfile.gettempdir()) / "acc_tiam1_benchmarks"

ROW_KEYS = (
    "stage",
    "size",
    "ours_s",
    "ours_peak_mb",
    "reference",
    "ref_s",
    "ref_peak_mb",
    "agreement",
    "load_start",
    "load_end",
    "note",
)


# -- the machine ----------------------------------------------------------------------


def machine_info() -> dict:
    """CPU model, logical cores (all and usable by this process), RAM, Python version."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpu_model": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "slurm_plugin_import_s": slurm_plugin_seconds(),
    }


#: Seconds from which importing the SLURM executor plugin counts as slow (it takes
#: about 0.5 s where SLURM answers or is absent).
SLOW_PLUGIN_S = 2.0


@functools.cache
def slurm_plugin_seconds() -> float | None:
    """Seconds a new Python takes to import Snakemake's SLURM executor plugin; None
    when it is not installed.

    The plugin (2.x) runs ``scontrol show config``, with a 10 s timeout, on import, and
    Snakemake imports it at every start whatever the executor. Where SLURM's client is
    installed but no controller answers, every ``snakemake`` command, dry runs included,
    waits for it (9 s on this project's test machine), and a benchmark times the wait
    with the workflow. Measured once per process.
    """
    run = run_measured([sys.executable, "-c", "import snakemake_executor_plugin_slurm"])
    return round(run.seconds, 1) if run.returncode == 0 else None


def machine_line(info: dict | None = None) -> str:
    info = info or machine_info()
    line = (
        f"machine: {info['cpu_model']}, {info['cores']} cores ({info['usable_cores']} "
        f"usable), {info['ram_gb']} GB RAM, {info['os']}, Python {info['python']}"
    )
    wait = info.get("slurm_plugin_import_s")
    if wait is not None and wait >= SLOW_PLUGIN_S:
        line += (
            f"\nWARNING: importing Snakemake's SLURM executor plugin takes {wait:g} s here "
            "(its scontrol show config finds no SLURM controller): every snakemake start "
            "waits that long, and the times below include it. Start SLURM or measure on a "
            "machine without its client."
        )
    return line


def loadavg() -> float:
    """1-minute load average."""
    return round(os.getloadavg()[0], 2)


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")


# -- measuring processes ------------------------------------------------------------------


@dataclass
class Measured:
    returncode: int
    seconds: float
    #: ru_maxrss of the process and its waited-for descendants: the largest one, not a sum.
    peak_rss_mb: float
    stdout: str
    stderr: str


def run_measured(
    cmd: list[str], cwd: str | Path | None = None, env: dict | None = None
) -> Measured:
    """Run ``cmd`` to completion; its wall time, peak RSS and output.

    Output goes through temporary files (no pipe can fill up), and the child is reaped
    with ``os.wait4`` so that its resource usage is its own, not that of every child this
    process ever had.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, seconds, usage.ru_maxrss / 1024, out.read(), err.read())


class MemorySampler(threading.Thread):
    """Peak of the summed RSS of a process and all its descendants, sampled every
    ``interval`` seconds, and the 1-minute load average at each sample."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        #: (time.time(), 1-minute load average) pairs.
        self.loads: list[tuple[float, float]] = []
        self._done = threading.Event()

    def run(self):
        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._done.is_set():
            self.loads.append((time.time(), loadavg()))
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                break
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)
            time.sleep(self.interval)

    def stop(self):
        self._done.set()
        self.join(timeout=5)

    def load_at(self, when: float) -> float | None:
        """Load average of the sample nearest to ``when`` (a ``time.time()`` value)."""
        if not self.loads:
            return None
        return min(self.loads, key=lambda s: abs(s[0] - when))[1]


# -- result files -------------------------------------------------------------------------


def job_entries(run_log: str | Path) -> dict[str, dict[str, str]]:
    """Each job's block of a Snakemake run log, by benchmark file name.

    A job's block starts at its ``rule <name>:`` (or ``localrule``, ``checkpoint``) line;
    its ``key: value`` lines (``log``, ``benchmark``, ``resources`` ...) are returned as
    ``{key: value}``. Jobs without a ``benchmark:`` are left out.
    """
    entries, job = {}, None
    for line in Path(run_log).read_text().splitlines():
        line = line.strip()
        if re.fullmatch(r"(local)?(rule|checkpoint) \S+:", line):
            job = {}
        elif job is not None and ": " in line:
            key, value = line.split(": ", 1)
            job.setdefault(key, value.strip())
            if key == "benchmark":
                entries[Path(job["benchmark"]).name] = job
    return entries


def job_peaks(run_log: str | Path, workdir: str | Path) -> dict[str, float]:
    """True peak memory (MB) of every job of a Snakemake run, by benchmark file name.

    Snakemake's run log names each job's ``log:`` and ``benchmark:`` files; the rule's log
    ends with the process's high-water mark (:func:`acc_tiam1.runner.peak_memory_mb`).
    Snakemake's own ``max_rss`` samples every 30 s after the first 15 s and misses short
    peaks (at 88k nuclei it saw 3.5 GB of a 7.3 GB peak).
    """
    from acc_tiam1.runner import logged_peak_mb

    return _from_job_logs(run_log, workdir, logged_peak_mb)


def job_cpu(run_log: str | Path, workdir: str | Path) -> dict[str, float]:
    """CPU seconds of every job of a Snakemake run, by benchmark file name.

    From the line the rule's log ends with (:func:`acc_tiam1.runner.cpu_time_s`).
    Snakemake's own ``cpu_time`` is the last of its samples (every 0.5 s for 15 s, then
    every 30 s): a job of 15 to 45 s is reported with the CPU time of its first 15 s.
    """
    from acc_tiam1.runner import logged_cpu_s

    return _from_job_logs(run_log, workdir, logged_cpu_s)


def _from_job_logs(run_log, workdir, parse) -> dict[str, float]:
    """``parse(log text)`` of every job's own log, by benchmark file name (None: left out)."""
    values = {}
    for bench, job in job_entries(run_log).items():
        path = Path(workdir) / job.get("log", "").split(",")[0].strip()
        value = parse(path.read_text()) if "log" in job and path.exists() else None
        if value is not None:
            values[bench] = value
    return values


def job_requests(run_log: str | Path) -> dict[str, dict[str, float]]:
    """What every job of a Snakemake run asked the scheduler for, by benchmark file name.

    Returns ``{benchmark file name: {"mem_mb": ..., "runtime_min": ...}}`` from the
    ``resources:`` line Snakemake prints under each job (``runtime`` is in minutes). On a
    cluster a job above either is killed, so the benchmark sets them against what the
    job used.
    """
    requests = {}
    for bench, job in job_entries(run_log).items():
        values = dict(
            item.strip().split("=", 1)
            for item in job.get("resources", "").split(",")
            if "=" in item
        )
        requests[bench] = {
            "mem_mb": float(values.get("mem_mb", "nan")),
            "runtime_min": float(values.get("runtime", "nan")),
        }
    return requests


def row(stage: str, size: str, **values) -> dict:
    """One consolidated-table row; unknown keys are an error, missing ones None."""
    unknown = set(values) - set(ROW_KEYS)
    if unknown:
        raise KeyError(f"not a result column: {sorted(unknown)}")
    return {k: values.get(k) for k in ROW_KEYS} | {"stage": stage, "size": size}


def write_results(
    path: str | Path,
    script: str,
    rows: list[dict],
    started: str,
    details: dict | None = None,
    machine: dict | None = None,
) -> Path:
    """Write a stage script's result file (see the module docstring); returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "script": script,
        "machine": machine or machine_info(),
        "started": started,
        "finished": now(),
        "rows": rows,
        "details": details or {},
    }
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_text(json.dumps(_clean(doc), indent=1, default=_jsonable, allow_nan=False) + "\n")
    tmp.replace(path)
    print(f"results written: {path}", flush=True)
    return path


def read_results(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


def _clean(value):
    """NaN and infinities as None (JSON has neither), recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value):
    """numpy scalars and other leftovers: as plain Python values (NaN stays NaN)."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
