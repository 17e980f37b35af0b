"""Running a batch's jobs: in this process, a local process pool, or as Ray tasks.

``render_job`` renders one job and never raises for the job's own errors; the
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


def render_job(task: dict) -> dict:
    """Render one job through the render cache (``service.render_cached``: a loop already
    made, by the app or another batch, is not rendered again) and copy it to its output
    (atomically); never raises for the job's own errors.

    task: {"photo", "mask", "motion": paths (None = not given); "settings":
           RenderSettings.to_dict(); "output": the file to write; "device", "weights",
           "cache": {"root", "max_bytes"} or None (the environment's)}.
    Returns {"status": "done", "key", "seconds", "cached", "engine", "engine_message",
    "width", "height", "frames", "bytes", "notes", "warnings", "quality"} or
    {"status": "failed", "error": one line, "seconds"}.
    """
    from ..service import copy_out, render_cached
    t0 = time.perf_counter()
    try:
        settings = to_settings(task["settings"])
        rendered = render_cached(task["photo"], settings, cache=job_cache(task.get("cache")), mask=task.get("mask"),
                                 motion=task.get("motion"), device=task.get("device"), weights=task.get("weights"))
        copy_out(rendered.video, task["output"])
    except Exception as e:  # one job's failure is recorded; the batch goes on
        return {"status": "failed", "error": one_line(e), "seconds": time.perf_counter() - t0}
    info = dict(rendered.info, bytes=os.path.getsize(task["output"]))
    return {"status": "done", "key": info["key"], "seconds": time.perf_counter() - t0, "cached": info["cached"],
            **{k: info[k] for k in RESULT_FIELDS}}


def _ray_render(task: dict, photo: bytes, mask: bytes | None, motion: bytes | None):
    """A Ray task: the inputs arrive as bytes, the video goes back as bytes."""
    with tempfile.TemporaryDirectory(prefix="cinegan-batch-") as work:
        local = dict(task)
        for name, data in (("photo", photo), ("mask", mask), ("motion", motion)):
            if data is not None:
                local[name] = os.path.join(work, f"{name}-{os.path.basename(task[name])}")
                with open(local[name], "wb") as fh:
                    fh.write(data)
        local["output"] = os.path.join(work, "out" + os.path.splitext(task["output"])[1])
        set_threads(task.get("threads"))
        result = render_job(local)
        video = None
        if result["status"] == "done":
            with open(local["output"], "rb") as fh:
                video = fh.read()
        return result, video


def task_of(job: Job, out_dir: str, device, weights, cache) -> dict:
    """What ``render_job`` needs of a job: plain data a pool or Ray can send to a worker
    (cache: a cache.Cache, whose folder and size the worker uses)."""
    return {"photo": job.photo, "mask": job.mask, "motion": job.motion, "settings": job.settings.to_dict(),
            "output": os.path.join(out_dir, job.output), "device": device,
            "weights": None if weights is None else os.path.abspath(os.fspath(weights)),
            "cache": {"root": cache.root, "max_bytes": cache.max_bytes}}


def run_pool(tasks: dict[int, dict], record: Callable[[int, dict], None], workers: int) -> None:
    """Render in a pool of `workers` processes (spawned: torch does not survive a fork),
    each with its share of the CPU threads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    workers = min(workers, len(tasks))
    threads = max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=set_threads, initargs=(threads,))
    try:
        futures = {pool.submit(render_job, task): i for i, task in tasks.items()}
        for fut in as_completed(futures):
            try:
                result = fut.result()
            except BrokenProcessPool:
                result = {"status": "failed", "seconds": None,
                          "error": "a worker process died (out of memory?); run the batch again to retry"}
            record(futures[fut], result)
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


def run_ray(tasks: dict[int, dict], out_dir: str, record, address: str, workers, gpus: float) -> None:
    """Render as Ray tasks; each input file goes into the object store once."""
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
        for i, task in tasks.items():
            task = dict(task, threads=1)
            try:
                refs = [blob(task[k]) for k in FILE_COLUMNS]
            except OSError as e:
                record(i, {"status": "failed", "error": one_line(e), "seconds": 0.0})
                continue
            pending[remote.remote(task, *refs)] = (i, task["output"])
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i, output = pending.pop(ref)
                try:
                    result, video = ray.get(ref)
                    if video is not None:
                        with atomic_output(output) as tmp:
                            with open(tmp, "wb") as fh:
                                fh.write(video)
                except Exception as e:  # a lost node or worker: this job failed, the others go on
                    result = {"status": "failed", "error": f"Ray task failed: {one_line(e)}", "seconds": None}
                record(i, result)
