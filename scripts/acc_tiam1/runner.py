"""Glue between a Snakemake rule script and the library: logging and clean errors."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from .errors import InputError

#: The last two lines of every rule's log (read back by :func:`logged_cpu_s` and
#: :func:`logged_peak_mb`).
CPU_MESSAGE = "CPU time of this job: %.1f s"
PEAK_MESSAGE = "peak memory of this job: %.0f MB"


def run_rule(main: Callable[[object], None], smk) -> None:
    """Run ``main(smk)`` with its output in the rule's log.

    An :class:`~acc_tiam1.errors.InputError` ends the job with exit code 1 and its
    message (in the log and on the terminal) instead of a traceback.

    Parameters
    ----------
    main
        The rule's work; receives the ``snakemake`` object.
    smk
        The ``snakemake`` object Snakemake injects into rule scripts.
    """
    log_path = Path(smk.log[0]) if len(smk.log) else None
    if log_path is None:
        _call(main, smk)
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(log_path, "w") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        handler = logging.StreamHandler(log)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            _call(main, smk, log)
            # Snakemake's benchmark samples a job every 30 s after its first 15 s, so it
            # misses short memory peaks and the CPU time after its last sample; the
            # kernel's counts of this process do not.
            logging.info(CPU_MESSAGE, cpu_time_s())
            peak = peak_memory_mb()
            if peak is not None:
                logging.info(PEAK_MESSAGE, peak)
        finally:
            root.removeHandler(handler)


def _call(main, smk, log=None) -> None:
    try:
        _profiled(main, smk)
    except InputError as err:
        message = f"Invalid input: {err}"
        if log is not None:
            print(message, file=log, flush=True)
        print(message, file=sys.__stderr__, flush=True)
        sys.exit(1)
    except Exception:
        # Anything else is a bug, not a user mistake: keep the traceback, in the log too.
        if log is not None:
            traceback.print_exc(file=log)
            log.flush()
        raise


def _profiled(main, smk) -> None:
    """``main(smk)``, under cProfile when ``ACC_TIAM1_PROFILE`` names a folder.

    The profile goes there, named after the job's log (``logs/snrna/qc/S1.log`` gives
    ``logs.snrna.qc.S1.prof``), for ``python -m pstats`` or snakeviz (docs/benchmarks.md).
    """
    import os

    target = os.environ.get("ACC_TIAM1_PROFILE")
    if not target or not len(smk.log):
        main(smk)
        return
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        main(smk)
    finally:
        profile.disable()
        name = str(Path(smk.log[0]).with_suffix("")).strip("/").replace("/", ".")
        Path(target).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(Path(target) / f"{name}.prof")


def logged_peak_mb(log_text: str) -> float | None:
    """The peak memory a job's log ends with (see :func:`run_rule`), or None."""
    return _logged(PEAK_MESSAGE, log_text)


def logged_cpu_s(log_text: str) -> float | None:
    """The CPU time a job's log ends with (see :func:`run_rule`), or None."""
    return _logged(CPU_MESSAGE, log_text)


def _logged(message: str, log_text: str) -> float | None:
    """The number of the last line of ``log_text`` written by ``message``, or None."""
    before, after = re.split(r"%\.\d+f", message)
    found = re.findall(re.escape(before) + "([0-9.]+)" + re.escape(after), log_text)
    return float(found[-1]) if found else None


def cpu_time_s() -> float:
    """CPU seconds (user + system) of this process and its finished child processes.

    Counts every thread, and the interpreter's start-up and imports before the rule's work.
    """
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def peak_memory_mb() -> float | None:
    """Peak resident memory of this process so far (Linux ``VmHWM``), or None elsewhere."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None
