"""Campaign batch throughput: jobs per minute for 1 worker, N workers and Ray local.

    python bench/batch.py [--jobs examples/campaign.csv] [--workers N] [--no-ray] [--json]

Each mode renders the same jobs file into a fresh folder with a fresh cache (so
every mode computes its automatic masks itself). Ray local is timed twice: with
the start of Ray (what `--ray local` costs end to end) and without it. The
1-worker folder is then run again to time a resume (every job skipped). Times
are wall-clock in this process (no interpreter start-up). The machine's load
average is printed too: on a shared machine the figures move with it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import report  # noqa: E402
from cinegan_core.batch import batch, ray_session  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(jobs: str, work: str, name: str, **kw) -> tuple[float, int, str]:
    """(seconds, jobs done, output folder) of one batch into work/name with its own cache."""
    out = os.path.join(work, name)
    t0 = time.perf_counter()
    rep = batch(jobs, out, cache_dir=os.path.join(work, name + "-cache"), **kw)
    seconds = time.perf_counter() - t0
    if rep.failed:
        raise SystemExit(f"{name}: {len(rep.failed)} jobs failed: {rep.failed[0]['error']}")
    return seconds, rep.count("done"), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default=os.path.join(ROOT, "examples", "campaign.csv"))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray local run")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = {"cpu_count": os.cpu_count(), "workers": args.workers,
           "load_average_start": round(os.getloadavg()[0], 2)}
    work = tempfile.mkdtemp(prefix="cinegan-bench-batch-")
    try:
        s1, n, one = run(args.jobs, work, "w1", workers=1)
        res.update(jobs=n, w1_seconds=round(s1, 1), w1_jobs_per_min=round(n / s1 * 60, 2))
        sn, _, _ = run(args.jobs, work, "wN", workers=args.workers)
        res.update(wN_seconds=round(sn, 1), wN_jobs_per_min=round(n / sn * 60, 2), wN_over_w1=round(s1 / sn, 2))
        if not args.no_ray:
            t0 = time.perf_counter()
            with ray_session("local", args.workers):
                start = time.perf_counter() - t0
                sr, _, _ = run(args.jobs, work, "ray", ray="local", workers=args.workers)
            res.update(ray_start_seconds=round(start, 1), ray_seconds=round(sr, 1),
                       ray_jobs_per_min=round(n / sr * 60, 2), ray_over_w1=round(s1 / sr, 2),
                       ray_with_start_jobs_per_min=round(n / (sr + start) * 60, 2),
                       ray_with_start_over_w1=round(s1 / (sr + start), 2))
        t0 = time.perf_counter()
        rep = batch(args.jobs, one, cache_dir=os.path.join(work, "w1-cache"))
        resume = time.perf_counter() - t0
        assert rep.count("skipped") == n, rep.summary()
        res.update(resume_seconds=round(resume, 2), resume_over_w1=round(resume / s1, 4),
                   load_average_end=round(os.getloadavg()[0], 2))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(res, args.json)


if __name__ == "__main__":
    main()
