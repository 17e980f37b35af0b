"""Campaign batches: many photos x variants from one jobs file, on one machine or a Ray cluster.

A jobs file is a CSV table (one row per photo, a header naming the columns) or
JSON (a list of rows, or ``{"defaults": {...}, "jobs": [...]}``). A row names:

* ``photo`` (required): a path relative to the jobs file (or absolute);
* ``mask``, ``motion``: the user's mask image / motion ``.npy`` (optional, same rule);
* ``name``: the name its outputs carry instead of the photo's (optional);
* any ``RenderSettings`` field under its own name (``preset``, ``format``,
  ``frames`` or ``seconds``, ``fps``, ``engine``, ``max_side``, ``direction``,
  ``speed``, ``arrows`` as "x0,y0,x1,y1;...", ...) and the per-region motion as
  ``sky_direction``, ``sky_speed``, ``sky_style``, ``water_direction``, ``water_speed``,
  ``water_style`` (styles: auto, drift, flow, ripple);
* several values separated by "|" in a setting's column, or in its plural
  (``presets``, ``formats``, ``aspects``..., which also take a JSON list): the row
  becomes one job per combination, e.g. ``presets=calm|lively`` x
  ``formats=mp4|gif`` = 4 jobs, ``frames=24|48`` = 2.

Column names are case-insensitive, "-" and "." count as "_", empty cells are
"not given", lines whose first cell starts with "#" are comments. Speeds are
relative (px per frame per 1024 px of the long side), as in the app and the API.
A row's settings become a ``RenderSettings`` through the converter every surface
uses (``settings.to_settings``): the order of the columns never matters, and a
list that expands to nothing (``frames=|``) is a failed job of its own.

Every job is rendered through the render cache the app uses
(``service.render_formats``, same key: a loop the app already made is not made
again; the cache is the environment's, ``$CINEGAN_CACHE`` at most
``$CINEGAN_CACHE_GB``, unless one is given; jobs that differ only in format are
one render, encoded in each) and copied to
``OUT/cinegan-<photo>[-<preset>][-<other varied values>].<ext>`` (the email GIF
``...-email.gif``), and
``OUT/manifest.json`` records each job's settings, output, status
(done / skipped / failed / pending), seconds, one-line error, key and the loop's
quality figures (``quality.LoopProbe``). The manifest is the batch's memory: a
job is skipped when its output exists, is the file the manifest recorded (same
size) and its recorded key equals the key computed now; a job about to be
rendered loses its recorded key first, so an output replaced while the batch was
killed is never taken for a finished one. Outputs and the manifest are written
to temporary files and renamed (nothing half-written is left behind). A file in
OUT with a job's output name that the manifest does not know is never
overwritten (that job fails and says so).

Jobs run in this process (``workers=1``), in a pool of ``workers`` processes, or
as Ray tasks (``ray="local"`` starts a local Ray, ``"auto"`` joins the cluster
this machine belongs to or starts a local one, or an address such as
``"10.0.0.5:6379"``; Ray is an optional extra, requirements-ray.txt). The
automatic mask is computed once per photo: every worker on a machine shares it
through the disk cache (``pipeline.auto_mask_cached``, keyed by the photo's
pixels and the mask reach, under a lock). Ray tasks get the input files' bytes through Ray's object
store (one copy per file) and send the finished video back, so the nodes need no
shared folder; they do need cinegan_core's dependencies (the package itself is
shipped with the job).

Beside each finished loop the batch puts its poster (from the render's cache
entry) and embed code, and over the campaign ``OUT/index.html``, every loop
playing side by side (``pages``); the manifest's "delivery" lists these files: a
file of such a name that the batch did not write is left alone.

The package: ``jobs`` (reading and expanding rows), ``naming`` (output names),
``manifest`` (the manifest and resuming), ``runners`` (one loop, the pool, Ray),
``pages`` (embed code, the A/B page); ``batch`` here ties them together (``run_jobs``:
planned jobs into a folder, which the app's A/B variants use too).

Note: ``cinegan_core.batch`` is the function; this package is
``sys.modules["cinegan_core.batch"]`` (``from cinegan_core.batch import ...`` works).
"""
from __future__ import annotations

import datetime
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

from ..errors import CineGANError
from .jobs import Job, Row, expand_row, make_settings, plan, read_jobs, rows_from_data
from .manifest import MANIFEST, JobKeys, entry, folder_lock, read_manifest, triage, write_manifest
from .naming import name_outputs
from .pages import deliver, poster_names
from .runners import ray_session, render_job, run_pool, run_ray, task_of

__all__ = ["MANIFEST", "BatchReport", "Job", "Row", "batch", "expand_row", "make_settings", "name_outputs", "plan",
           "ray_session", "read_jobs", "read_manifest", "render_job", "rows_from_data", "run_jobs", "write_manifest"]

Progress = Callable[[dict], None]

MANIFEST_EVERY = 1.0  # s: the manifest is rewritten at most this often while jobs finish (and at the end)


@dataclass
class BatchReport:
    """What a batch did.

    out_dir:  the output folder; manifest: path of its manifest.json.
    jobs:     the manifest's job entries (dicts, see the module docstring).
    seconds:  wall-clock time of the whole batch.
    """

    out_dir: str
    manifest: str
    jobs: list[dict]
    seconds: float

    def count(self, status: str) -> int:
        return sum(1 for j in self.jobs if j["status"] == status)

    @property
    def failed(self) -> list[dict]:
        return [j for j in self.jobs if j["status"] != "done" and j["status"] != "skipped"]

    @property
    def exit_code(self) -> int:
        """0 when every job is done or skipped, 2 when some failed."""
        return 2 if self.failed else 0

    def summary(self) -> str:
        """One line: counts, time, rate."""
        done = self.count("done")
        line = (f"{len(self.jobs)} jobs: {done} done, {self.count('skipped')} skipped, "
                f"{len(self.failed)} failed in {self.seconds:.1f} s")
        if done:
            line += f" ({done / self.seconds * 60:.1f} jobs/min)"
        return line + f"; manifest {self.manifest}"


def batch(jobs, out, *, workers: int | None = None, ray: str | None = None, device: str | None = None,
          weights=None, cache=None, cache_dir: str | None = None, progress: Progress | None = None,
          ray_gpus: float = 0.0, base_dir: str | None = None) -> BatchReport:
    """Render a campaign: every job of a jobs file into one folder, with a manifest.

    jobs:      a .csv / .json jobs file, or its rows as a list of dicts (or
               {"defaults": {...}, "jobs": [...]}); see the module docstring.
    out:       output folder (created); the videos and manifest.json go there.
    workers:   processes on this machine (default 1: in this process); with
               ray="local" the CPUs of the local Ray (default: all).
    ray:       None (no Ray), "local", "auto" or a cluster address (needs the Ray extra).
    device, weights: as for ``render``.
    cache:     the render cache (a cache.Cache, or its folder); default the environment's
               (``service.shared_cache``: $CINEGAN_CACHE, $CINEGAN_CACHE_GB); cache_dir: its
               folder (the same as cache=folder).
    progress:  progress({"stage": "batch", "step": jobs finished, "total": jobs}).
    ray_gpus:  GPUs (or a fraction) each Ray task asks for.
    base_dir:  folder that relative paths in row dicts start from (default: the
               jobs file's folder, or the current folder for rows).
    Returns a BatchReport; failed jobs are in it (and the manifest), not raised.
    Raises CineGANError only for problems with the whole batch (jobs file, folder).
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise CineGANError(f"workers must be a whole number of at least 1, got {workers!r}")
    if not (isinstance(ray_gpus, (int, float)) and math.isfinite(ray_gpus) and ray_gpus >= 0):
        raise CineGANError(f"ray_gpus must be a number of at least 0, got {ray_gpus!r}")
    planned = plan(jobs, base_dir)
    jobs_file = os.path.abspath(jobs) if isinstance(jobs, (str, os.PathLike)) else None
    return run_jobs(planned, out, workers=workers, ray=ray, device=device, weights=weights,
                    cache=cache if cache is not None else cache_dir, progress=progress, ray_gpus=ray_gpus,
                    jobs_file=jobs_file)


def run_jobs(planned: list[Job], out, *, workers: int | None = None, ray: str | None = None,
             device: str | None = None, weights=None, cache=None, progress: Progress | None = None,
             ray_gpus: float = 0.0, jobs_file: str | None = None, title: str | None = None) -> BatchReport:
    """Render planned, named jobs (``plan``, or built by hand as ``service.variants`` does)
    into the folder out with its manifest.json, resuming what a manifest there says is
    done; beside the loops their posters and embed codes, and index.html (``pages``).
    Jobs that differ only in format are rendered once (``loops``). Arguments as for
    ``batch``; jobs_file: recorded in the manifest; title: index.html's (default: the
    campaign's loops counted)."""
    from ..cache import Cache
    from ..service import shared_cache
    t0 = time.perf_counter()
    if not isinstance(cache, Cache):
        cache = shared_cache(None if cache is None else os.fspath(cache))
    out_dir = os.path.abspath(os.fspath(out))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise CineGANError(f"cannot create the output folder {out_dir!r}: {e}") from None
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with folder_lock(out_dir):
        old = read_manifest(out_dir)
        entries = [entry(j) for j in planned]
        todo = triage(planned, entries, out_dir, old, JobKeys(device, weights))
        ours = set(old.get("delivery") or [])
        posters = poster_names(planned, out_dir, ours)
        for i, job in enumerate(planned):  # a loop done earlier whose poster went missing is copied out again
            if entries[i]["status"] == "skipped" and job.stem in posters and \
                    not os.path.exists(os.path.join(out_dir, posters[job.stem])):
                entries[i], todo = entry(job), sorted({*todo, i})
        # "delivery": the files besides the loops that this batch writes and owns (kept if it is killed)
        manifest = {"jobs_file": jobs_file, "started": started, "finished": None, "summary": None, "jobs": entries,
                    "delivery": sorted(ours | set(posters.values()))}

        def save(final: bool = False) -> None:
            report = BatchReport(out_dir, os.path.join(out_dir, MANIFEST), entries, time.perf_counter() - t0)
            manifest["summary"] = {"jobs": len(entries), "done": report.count("done"),
                                   "skipped": report.count("skipped"), "failed": report.count("failed"),
                                   "pending": report.count("pending"), "seconds": round(report.seconds, 3)}
            if final:
                manifest["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
            write_manifest(out_dir, manifest)

        save()  # the jobs about to be rendered are recorded without a key first
        finished = len(entries) - len(todo)
        if progress:
            progress({"stage": "batch", "step": finished, "total": len(entries)})
        last_save = time.monotonic()

        def record(i: int, result: dict) -> None:
            nonlocal finished, last_save
            entries[i].update(result)
            if result["status"] == "done":
                entries[i]["render_seconds"] = result["seconds"]
            finished += 1
            if progress:
                progress({"stage": "batch", "step": finished, "total": len(entries)})
            if time.monotonic() - last_save >= MANIFEST_EVERY:
                save()
                last_save = time.monotonic()

        tasks, poster_of = {}, dict(posters)
        for loop in loops(planned, todo):  # the first loop of a stem brings its poster
            tasks[loop] = task_of([planned[i] for i in loop], out_dir, device, weights, cache,
                                  poster_of.pop(planned[loop[0]].stem, None))
        try:
            if not tasks:
                pass
            elif ray:
                run_ray(tasks, out_dir, record, ray, workers, ray_gpus)
            elif (workers or 1) > 1 and len(tasks) > 1:
                run_pool(tasks, record, workers)
            else:
                for loop, task in tasks.items():
                    for i, result in zip(loop, render_job(task)):
                        record(i, result)
            manifest["delivery"] = deliver(out_dir, planned, entries, posters, manifest["delivery"], title)
        finally:
            save(final=True)
    return BatchReport(out_dir, os.path.join(out_dir, MANIFEST), entries, time.perf_counter() - t0)


def loops(planned: list[Job], todo: list[int]) -> list[tuple[int, ...]]:
    """The jobs to render, as loops: the indices of jobs that differ only in format (same
    photo, mask, motion, stem and every other setting) together, rendered once and encoded
    in each format (``runners.render_job``), in the order of their first job."""
    import json
    groups: dict = {}
    for i in todo:
        job = planned[i]
        same = json.dumps([job.photo, job.mask, job.motion, job.stem, job.settings.replace(format="mp4").to_dict()],
                          sort_keys=True, default=str)
        groups.setdefault(same, []).append(i)
    return [tuple(g) for g in groups.values()]
