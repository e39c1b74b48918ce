"""Time and memory of the ambient-RNA and doublet steps (issue 12), per sample and in total.

For a study of ``--nuclei`` nuclei over ``--samples`` mice and ``--genes`` genes it
simulates, per mouse, nuclei of the marker table's cell types (neurons ~5,000 UMIs, glia
~2,000, as in the demo) plus ambient RNA from the mouse's own lysate, and saves them.
Then, as the workflow's per-sample job would, one fresh process per mouse reads its
counts and runs

- ``estimate_contamination`` (with its 200-replicate bootstrap),
- ``correct_counts`` (grouped by cell type),
- ``coexpression_doublets``,

and one process runs ``ambient_explained`` on all mice together (the pseudobulk side).
A last process reads a raw droplet matrix of one mouse (its nuclei plus ``--empty``
empty droplets with ~``--empty-umis`` UMIs and a tail of barcodes with a few) and makes
its soup profile. Every process's wall time and peak resident memory come from
:func:`benchlib.run_measured`; the steps' own times are printed by the child.

    .venv/bin/python benchmarks/ambient_benchmark.py [--nuclei 100000] [--samples 12]
        [--genes 20000] [--workdir /tmp/ambient_benchmark] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "scripts")]

import benchlib  # noqa: E402

MEDIAN_UMIS = {"Glutamatergic": 5000.0, "GABAergic": 4000.0, "Non-neuronal": 2000.0}


def _markers():
    from acc_tiam1 import io

    return io.read_markers(HERE.parent / "config" / "markers" / "acc_markers.tsv")


def simulate(path: Path, n_nuclei: int, n_genes: int, seed: int, rho: float = 0.1) -> None:
    """One mouse: nuclei x genes counts (own + ambient), cell types, soup; saved as .npz."""
    rng = np.random.default_rng([seed, 5])
    markers = _markers()
    types = markers["cell_type"].to_numpy()
    klass = markers["class"].to_numpy()
    marker_genes = sorted({g for gs in markers["markers"] for g in gs})
    symbols = np.array(marker_genes + [f"Gene{i:05d}" for i in range(n_genes - len(marker_genes))])
    col = {g: i for i, g in enumerate(symbols)}
    base = rng.normal(-1.0, 1.8, n_genes)
    profiles = np.empty((types.size, n_genes))
    for t in range(types.size):
        lp = base + rng.normal(0, 0.8, n_genes) * (rng.random(n_genes) < 0.3)
        lp[: len(marker_genes)] = -np.inf
        for g in markers.loc[t, "markers"]:
            lp[col[g]] = 3.0
        p = np.exp2(lp)
        profiles[t] = p / p.sum()
    props = rng.dirichlet(np.ones(types.size) * 5)
    cell = rng.choice(types.size, n_nuclei, p=props)
    umis = np.round([MEDIAN_UMIS[klass[c]] for c in cell] * np.exp(rng.normal(0, 0.45, n_nuclei)))
    umis = umis.astype(np.int64)
    rows, cols = [], []
    for t in range(types.size):
        idx = np.flatnonzero(cell == t)
        if idx.size:
            draws = rng.choice(n_genes, size=int(umis[idx].sum()), p=profiles[t])
            rows.append(np.repeat(idx, umis[idx]))
            cols.append(draws)
    own = sparse.csr_matrix(
        (
            np.ones(sum(r.size for r in rows), np.int32),
            (np.concatenate(rows), np.concatenate(cols)),
        ),
        shape=(n_nuclei, n_genes),
    )
    soup = np.asarray(own.sum(axis=0), dtype=float).ravel()
    soup /= soup.sum()
    amb_umis = rng.poisson(rho / (1 - rho) * umis.mean(), n_nuclei)
    amb = sparse.csr_matrix(
        (
            np.ones(int(amb_umis.sum()), np.int32),
            (
                np.repeat(np.arange(n_nuclei), amb_umis),
                rng.choice(n_genes, int(amb_umis.sum()), p=soup),
            ),
        ),
        shape=(n_nuclei, n_genes),
    )
    x = (own + amb).tocsr()
    x.sum_duplicates()
    np.savez(
        path,
        data=x.data,
        indices=x.indices,
        indptr=x.indptr,
        shape=x.shape,
        cell_type=types[cell],
        symbols=symbols,
        soup=soup,
    )


def load(path: Path):
    z = np.load(path, allow_pickle=True)
    x = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
    return x, z["cell_type"].astype(str), z["symbols"].astype(str), z["soup"]


def child_sample(path: Path) -> None:
    """The per-sample job: estimate, correct, co-expression doublets; prints step times."""
    from acc_tiam1.snrna import _ambient_correct as ambient_correct
    from acc_tiam1.snrna import _contamination as ambient_estimate
    from acc_tiam1.snrna import _doublets as doublets
    from acc_tiam1.snrna import _soup as ambient

    t0 = time.perf_counter()
    x, ct, symbols, soup_p = load(path)
    times = {"read": time.perf_counter() - t0}
    soup = ambient.SoupProfile(soup_p, "nuclei", x.shape[0], int(x.sum()))
    t = time.perf_counter()
    est = ambient_estimate.estimate_contamination(x, symbols, ct, _markers(), soup, path.stem)
    times["estimate"] = time.perf_counter() - t
    t = time.perf_counter()
    corrected = ambient_correct.correct_counts(x, est.ambient_umis, soup_p, ct)
    times["correct"] = time.perf_counter() - t
    t = time.perf_counter()
    doublets.coexpression_doublets(x, symbols, _markers(), ct, est.ambient_umis, soup_p)
    times["coexpression"] = time.perf_counter() - t
    times["nnz"] = x.nnz
    times["removed_share"] = float(1 - corrected.sum() / x.sum())
    times["rho"] = est.row["rho"]
    print(json.dumps(times))


def child_explained(paths: list[Path]) -> None:
    """The pseudobulk side: the soup's share of every cell type x gene, all mice."""
    from acc_tiam1.snrna import _ambient_correct as ambient_correct

    mats, samples, types, soups, amb = [], [], [], {}, []
    for p in paths:
        x, ct, _symbols, soup = load(p)
        mats.append(x)
        samples += [p.stem] * x.shape[0]
        types.append(ct)
        soups[p.stem] = soup
        amb.append(np.full(x.shape[0], 0.1 * x.sum() / x.shape[0]))
    x = sparse.vstack(mats, format="csr")
    t = time.perf_counter()
    table = ambient_correct.ambient_explained(
        x, np.concatenate(amb), soups, samples, np.concatenate(types), np.arange(x.shape[1])
    )
    print(json.dumps({"explained": time.perf_counter() - t, "rows": len(table)}))


def child_raw(path: Path, n_empty: int, empty_umis: float) -> None:
    """Read a raw droplet matrix (nuclei + empty droplets) and make the soup profile."""
    import h5py
    from acc_tiam1.snrna import _raw as raw_droplets
    from acc_tiam1.snrna import _soup as ambient

    x, _ct, symbols, soup = load(path)
    rng = np.random.default_rng(9)
    e_umis = np.concatenate([rng.poisson(empty_umis, n_empty), rng.geometric(0.3, n_empty)])
    e = sparse.csr_matrix(
        (
            np.ones(int(e_umis.sum()), np.int32),
            (
                np.repeat(np.arange(e_umis.size), e_umis),
                rng.choice(soup.size, int(e_umis.sum()), p=soup),
            ),
        ),
        shape=(e_umis.size, soup.size),
    )
    e.sum_duplicates()
    raw = sparse.vstack([x, e], format="csr")
    bcs = np.array([f"B{i:09d}-1" for i in range(raw.shape[0])], dtype="S")
    ids = np.array([f"ID{i}" for i in range(soup.size)], dtype="S")
    h5 = path.with_suffix(".raw.h5")
    with h5py.File(h5, "w") as f:
        m = f.create_group("matrix")
        for key, val in (
            ("barcodes", bcs),
            ("data", raw.data),
            ("indices", raw.indices),
            ("indptr", raw.indptr),
        ):
            m.create_dataset(key, data=val, compression="gzip", compression_opts=1)
        m.create_dataset("shape", data=np.array([raw.shape[1], raw.shape[0]], np.int32))
        fe = m.create_group("features")
        fe.create_dataset("id", data=ids)
        fe.create_dataset("name", data=symbols.astype("S"))
        fe.create_dataset("feature_type", data=np.array([b"Gene Expression"] * soup.size))
    del raw, e
    t = time.perf_counter()
    droplets = raw_droplets.read_raw_droplets(h5, "S")
    read = time.perf_counter() - t
    t = time.perf_counter()
    prof = ambient.soup_from_droplets(droplets, ids.astype(str), bcs[: x.shape[0]].astype(str))
    print(
        json.dumps(
            {
                "read_totals": read,
                "soup": time.perf_counter() - t,
                "barcodes": int(droplets.totals.size),
                "soup_droplets": prof.n_droplets,
                "l1_to_truth": float(np.abs(prof.profile - soup).sum()),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nuclei", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--empty", type=int, default=250_000)
    parser.add_argument("--empty-umis", type=float, default=60.0)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ambient_benchmark"))
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", nargs="+", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *paths = args.child
        if kind == "simulate":
            simulate(Path(paths[0]), int(paths[1]), int(paths[2]), int(paths[3]))
        elif kind == "sample":
            child_sample(Path(paths[0]))
        elif kind == "explained":
            child_explained([Path(p) for p in paths])
        else:
            child_raw(Path(paths[0]), args.empty, args.empty_umis)
        return
    started = benchlib.now()
    args.workdir.mkdir(parents=True, exist_ok=True)
    per = args.nuclei // args.samples
    paths = [args.workdir / f"M{i:02d}_{per}x{args.genes}.npz" for i in range(args.samples)]
    # everything heavy runs in child processes: Linux carries a process's peak RSS over to
    # the children it starts, so a big parent would inflate every child's measured peak
    for i, p in enumerate(paths):
        if not p.exists():
            m = benchlib.run_measured(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    "simulate",
                    str(p),
                    str(per),
                    str(args.genes),
                    str(i),
                ]
            )
            if m.returncode != 0:
                raise SystemExit(m.stderr[-3000:])
            print(f"simulated {p.name} in {m.seconds:.1f} s", flush=True)
    me = [
        sys.executable,
        __file__,
        "--empty",
        str(args.empty),
        "--empty-umis",
        str(args.empty_umis),
        "--child",
    ]

    def run(cmd):
        m = benchlib.run_measured(cmd)
        if m.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[-2:])} failed:\n{m.stderr[-3000:]}")
        return m

    load_start = benchlib.loadavg()
    print(f"load average {load_start:.1f}", flush=True)
    jobs, steps = [], []
    for p in paths:
        m = run([*me, "sample", str(p)])
        steps.append(json.loads(m.stdout.strip().splitlines()[-1]))
        jobs.append(m)
        print(f"{p.stem}: {m.seconds:.1f} s, peak {m.peak_rss_mb:.0f} MB, {steps[-1]}", flush=True)
    ex = run([*me, "explained", *map(str, paths)])
    print(
        f"ambient_explained: {ex.seconds:.1f} s, peak {ex.peak_rss_mb:.0f} MB, "
        f"{ex.stdout.strip().splitlines()[-1]}",
        flush=True,
    )
    raw = run([*me, "raw", str(paths[0])])
    print(
        f"raw droplets: {raw.seconds:.1f} s, peak {raw.peak_rss_mb:.0f} MB, "
        f"{raw.stdout.strip().splitlines()[-1]}",
        flush=True,
    )
    total = sum(j.seconds for j in jobs)
    sums = {k: sum(s[k] for s in steps) for k in ("read", "estimate", "correct", "coexpression")}
    size = f"{args.nuclei} nuclei ({args.samples} x {per}) x {args.genes} genes"
    print(
        f"\n{size}: per-sample jobs {total:.1f} s in all (steps: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in sums.items())
        + f"), largest job {max(j.peak_rss_mb for j in jobs):.0f} MB; ambient_explained "
        f"{ex.seconds:.1f} s / {ex.peak_rss_mb:.0f} MB; load average {benchlib.loadavg():.1f}",
        flush=True,
    )
    if args.json:
        rows = [
            benchlib.row(
                "ambient per-sample jobs (estimate, correct, co-expression)",
                size,
                ours_s=total,
                ours_peak_mb=max(j.peak_rss_mb for j in jobs),
                load_start=load_start,
                load_end=benchlib.loadavg(),
                note="sum of job wall times; peak = largest job",
            ),
            benchlib.row(
                "ambient share per cell type x gene",
                size,
                ours_s=ex.seconds,
                ours_peak_mb=ex.peak_rss_mb,
            ),
        ]
        benchlib.write_results(
            args.json, "ambient_benchmark.py", rows, started, details={"steps": steps}
        )


if __name__ == "__main__":
    main()
