"""Running a batch's jobs: in this process, a local process pool, or as Ray tasks.

``render_job`` renders one loop (one job, or the jobs that differ only in format:
one render, encoded in each) and never raises for the jobs' own errors; the
pool (``run_pool``) spawns processes (torch does not survive a fork), each with
its share of the CPU threads; Ray (``ray_session``, ``run_ray``) gets the input
files' bytes through its object store (one copy per file) and sends the finished
video back, so the nodes need no shared folder. Ray is an optional extra
(requirements-ray.txt).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import Callable

from ..errors import CineGANError, one_line
from ..settings import to_settings
from .jobs import FILE_COLUMNS, Job
from .manifest import RESULT_FIELDS


def job_cache(spec: dict | None):
    """This process's cache for a task's {"root", "max_bytes"} (None: ``service.shared_cache``,
    from the environment)."""
    from ..cache import Cache
    from ..service import shared_cache
    if not spec:
        return shared_cache()
    key = (spec["root"], spec["max_bytes"])
    if key not in _CACHES:
        _CACHES[key] = Cache(spec["root"], max_bytes=spec["max_bytes"])
    return _CACHES[key]


_CACHES: dict = {}


def set_threads(threads: int | None) -> None:
    """Limit torch's and OpenCV's threads in this process (None: leave them)."""
    if not threads:
        return
    import cv2
    import torch
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def render_job(task: dict) -> list[dict]:
    """Render one loop through the render cache (``service.render_formats``: a format
    already made, by the app or another batch, is not rendered again; the formats missing
    are encoded from one render) and copy each format to its job's output, and the poster
    beside them when asked (atomically); never raises for the jobs' own errors. When the
    formats together fail, each is tried alone, so that one format's failure (a GIF that
    cannot fit its budget) is its job's only.

    task: {"photo", "mask", "motion": paths (None = not given); "settings":
           RenderSettings.to_dict() (the format aside, the jobs' common settings);
           "outputs": [(format, the file to write)], one per job; "poster": the file to
           write the poster to, or None; "device", "weights", "cache": {"root", "max_bytes"}
           or None (the environment's)}.
    Returns one result per output, in order: {"status": "done", "key", "seconds" (the
    loop's), "cached", "engine", "engine_message", "width", "height", "frames", "bytes",
    "notes", "warnings", "quality"} or {"status": "failed", "error": one line, "seconds"}.
    """
    from ..service import copy_out, render_formats
    t0 = time.perf_counter()
    outputs = task["outputs"]
    try:
        rendered = render_formats(task["photo"], to_settings(task["settings"]), [f for f, _ in outputs],
                                  cache=job_cache(task.get("cache")), mask=task.get("mask"), motion=task.get("motion"),
                                  device=task.get("device"), weights=task.get("weights"))
        for f, path in outputs:
            copy_out(rendered[f].video, path)
        if task.get("poster"):
            copy_out(rendered[outputs[0][0]].poster, task["poster"])
    except Exception as e:  # one job's failure is recorded; the batch goes on
        if len(outputs) > 1:
            return [render_job(dict(task, outputs=[out]))[0] for out in outputs]
        return [{"status": "failed", "error": one_line(e), "seconds": time.perf_counter() - t0}]
    results = []
    for f, path in outputs:
        info = dict(rendered[f].info, bytes=os.path.getsize(path))
        results.append({"status": "done", "key": info["key"], "seconds": time.perf_counter() - t0,
                        "cached": info["cached"], **{k: info[k] for k in RESULT_FIELDS}})
    return results


def _ray_render(task: dict, photo: bytes, mask: bytes | None, motion: bytes | None):
    """A Ray task: the inputs arrive as bytes; the results and the files written go back
    ({the task's path: bytes})."""
    with tempfile.TemporaryDirectory(prefix="cinegan-batch-") as work:
        local = dict(task)
        for name, data in (("photo", photo), ("mask", mask), ("motion", motion)):
            if data is not None:
                local[name] = os.path.join(work, f"{name}-{os.path.basename(task[name])}")
                with open(local[name], "wb") as fh:
                    fh.write(data)
        here = {os.path.join(work, f"out-{i}{os.path.splitext(path)[1]}"): path
                for i, (_, path) in enumerate(task["outputs"])}
        local["outputs"] = [(f, p) for (f, _), p in zip(task["outputs"], here)]
        if task.get("poster"):
            here[os.path.join(work, "poster.jpg")] = task["poster"]
            local["poster"] = os.path.join(work, "poster.jpg")
        set_threads(task.get("threads"))
        results = render_job(local)
        files = {}
        for p, dest in here.items():
            if os.path.exists(p):
                with open(p, "rb") as fh:
                    files[dest] = fh.read()
        return results, files


def task_of(jobs: list[Job], out_dir: str, device, weights, cache, poster: str | None = None) -> dict:
    """What ``render_job`` needs of one loop's jobs (one job, or jobs that differ only in
    format): plain data a pool or Ray can send to a worker (cache: a cache.Cache, whose
    folder and size the worker uses; poster: its file name in out_dir, or None)."""
    job = jobs[0]
    return {"photo": job.photo, "mask": job.mask, "motion": job.motion, "settings": job.settings.to_dict(),
            "outputs": [(j.settings.format, os.path.join(out_dir, j.output)) for j in jobs],
            "poster": None if poster is None else os.path.join(out_dir, poster), "device": device,
            "weights": None if weights is None else os.path.abspath(os.fspath(weights)),
            "cache": {"root": cache.root, "max_bytes": cache.max_bytes}}


def run_pool(tasks: dict[tuple, dict], record: Callable[[int, dict], None], workers: int) -> None:
    """Render in a pool of `workers` processes (spawned: torch does not survive a fork),
    each with its share of the CPU threads. tasks: {job indices: ``task_of`` them}."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    workers = min(workers, len(tasks))
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=set_threads, initargs=(threads,))
    try:
        futures = {pool.submit(render_job, task): jobs for jobs, task in tasks.items()}
        for fut in as_completed(futures):
            try:
                results = fut.result()
            except BrokenProcessPool:
                results = [{"status": "failed", "seconds": None,
                            "error": "a worker process died (out of memory?); run the batch again to retry"}
                           ] * len(futures[fut])
            for i, result in zip(futures[fut], results):
                record(i, dict(result))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def ray_session(address: str, workers: int | None = None):
    """Ray for a batch: "local" starts a local Ray (`workers` CPUs, default all),
    "auto" joins the cluster this machine belongs to ($RAY_ADDRESS or `ray start`)
    or else starts a local one, anything else is a cluster address to join. A Ray
    already initialised in this process is used as it is. cinegan_core is shipped
    to the workers with the job."""
    try:
        import ray
    except ImportError:
        raise CineGANError("--ray needs Ray, an optional extra: pip install -r requirements-ray.txt") from None
    if ray.is_initialized():
        yield ray
        return
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # cinegan_core
    common = dict(runtime_env={"py_modules": [package], "excludes": ["__pycache__", "*.pyc"]},
                  log_to_driver=False, logging_level="warning")
    local = dict(common, num_cpus=workers, include_dashboard=False)
    try:
        if address == "local":
            ray.init(address="local", **local)
        elif address == "auto":
            try:
                ray.init(address="auto", **common)
            except ConnectionError:
                ray.init(address="local", **local)
        else:
            _check_reachable(address)
            ray.init(address=address, **common)
    except CineGANError:
        raise
    except Exception as e:
        raise CineGANError(f"could not start or join Ray ({address}): {one_line(e)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """CineGANError unless HOST:PORT (or ray://HOST:PORT) accepts a connection (Ray
    itself would retry an unreachable cluster for minutes)."""
    import socket
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise CineGANError(f"--ray takes local, auto or a cluster's HOST:PORT, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise CineGANError(f"cannot reach the Ray cluster at {address} ({one_line(e)}); is it running "
                           f"(ray start --head) and is the address right?") from None


def run_ray(tasks: dict[tuple, dict], out_dir: str, record, address: str, workers, gpus: float) -> None:
    """Render as Ray tasks ({job indices: ``task_of`` them}); each input file goes into
    the object store once."""
    from ..video import atomic_output
    with ray_session(address, workers) as ray:
        remote = ray.remote(_ray_render).options(num_cpus=1, num_gpus=gpus or 0)
        blobs: dict[str, object] = {}

        def blob(path):
            if path is None:
                return None
            if path not in blobs:
                with open(path, "rb") as fh:
                    blobs[path] = ray.put(fh.read())
            return blobs[path]

        pending = {}
        for jobs, task in tasks.items():
            task = dict(task, threads=1)
            try:
                refs = [blob(task[k]) for k in FILE_COLUMNS]
            except OSError as e:
                for i in jobs:
                    record(i, {"status": "failed", "error": one_line(e), "seconds": 0.0})
                continue
            pending[remote.remote(task, *refs)] = jobs
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                jobs = pending.pop(ref)
                try:
                    results, files = ray.get(ref)
                    for path, data in files.items():
                        with atomic_output(path) as tmp:
                            with open(tmp, "wb") as fh:
                                fh.write(data)
                except Exception as e:  # a lost node or worker: these jobs failed, the others go on
                    results = [{"status": "failed", "error": f"Ray task failed: {one_line(e)}", "seconds": None}
                               ] * len(jobs)
                for i, result in zip(jobs, results):
                    record(i, dict(result))
