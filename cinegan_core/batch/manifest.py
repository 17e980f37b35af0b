"""The manifest: a batch folder's memory, and resuming from it.

``OUT/manifest.json`` records each job's row, settings, output, status (done /
skipped / failed / pending), seconds, one-line error, cache key and the loop's
quality figures. It is written atomically (temporary file + rename) and is what
makes resuming safe (``triage``): a job is skipped when its output exists, is
the file the manifest recorded (same size) and its recorded key equals the key
computed now; a file in OUT that the manifest does not know is never overwritten.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time

from ..errors import CineGANError, one_line
from .jobs import FILE_COLUMNS, Job

try:
    import fcntl
except ImportError:  # not on POSIX: no folder lock
    fcntl = None

MANIFEST = "manifest.json"
LOCK_NAME = ".cinegan-batch.lock"
# what a job's manifest entry keeps of its render (also when a later run skips it)
RESULT_FIELDS = ("engine", "engine_message", "width", "height", "frames", "bytes", "notes", "warnings", "quality")


def _jsonable(obj):
    """Manifest-safe JSON data (non-finite floats as strings)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def read_manifest(out_dir: str) -> dict:
    """The manifest of a batch folder ({} when there is none). CineGANError when it
    exists but cannot be read (it is what makes resuming safe)."""
    path = os.path.join(out_dir, MANIFEST)
    if not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
            raise ValueError("no list of jobs")
    except (OSError, ValueError) as e:
        raise CineGANError(f"{path!r} cannot be read ({one_line(e)}); move it away to start the batch "
                           f"over, or choose another output folder") from None
    return data


def write_manifest(out_dir: str, data: dict) -> None:
    """Write the manifest atomically (temporary file + rename)."""
    from ..video import atomic_output
    text = json.dumps(_jsonable(data), indent=1)
    with atomic_output(os.path.join(out_dir, MANIFEST)) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


def entry(job: Job) -> dict:
    """A job's manifest entry before it runs: "failed" for an invalid row, else "pending".
    photo, mask and motion are recorded as the row gave them."""
    return {"row": job.where, "photo": job.label, "mask": job.given.get("mask"), "motion": job.given.get("motion"),
            "variant": job.variant, "settings": None if job.settings is None else job.settings.to_dict(),
            "output": job.output, "status": "failed" if job.error else "pending", "seconds": None,
            "error": job.error, "key": None, "quality": None}


@contextlib.contextmanager
def folder_lock(out_dir: str):
    """One batch at a time per output folder."""
    if fcntl is None:
        yield
        return
    with open(os.path.join(out_dir, LOCK_NAME), "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise CineGANError(f"another batch is writing to {out_dir!r}; wait for it to finish "
                               f"or choose another output folder") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- resuming: which jobs are already done -----------------------------------------------------
class JobKeys:
    """Cache keys of jobs, computed as the render would (``service.render_key``); the
    photo decoded last is kept (call in photo order), engines are picked once."""

    def __init__(self, device, weights):
        self.device, self.weights = device, weights
        self._photo = (None, None)
        self._engines: dict = {}

    def __call__(self, job: Job) -> str:
        from ..engines import pick_engine
        from ..pipeline import load_settings_photo
        from ..service import render_inputs
        s = job.settings
        loaded_as = (job.photo, s.max_side, s.aspect, s.crop)
        if self._photo[0] != loaded_as:
            self._photo = (loaded_as, load_settings_photo(job.photo, s))
        if s.engine not in self._engines:
            self._engines[s.engine] = pick_engine(s.engine, self.device, self.weights)[0].identity()
        return render_inputs(self._photo[1], s, mask=job.mask, motion=job.motion,
                             engine_id=self._engines[s.engine]).key(s)


def _missing_input(job: Job) -> str | None:
    for what in FILE_COLUMNS:
        path = getattr(job, what)
        if path is not None and not os.path.isfile(path):
            return f"{what} {path!r} does not exist"
    return None


def triage(jobs: list[Job], entries: list[dict], out_dir: str, old: dict, keys: JobKeys) -> list[int]:
    """Mark skipped and failed entries in place; returns the indices of jobs to render."""
    recorded = {e.get("output"): e for e in old.get("jobs", []) if isinstance(e, dict) and e.get("output")}
    todo = []
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].photo or "", i))  # one photo decode per photo
    for i in order:
        job, entry = jobs[i], entries[i]
        if job.error:
            continue
        missing = _missing_input(job)
        if missing:
            entry.update(status="failed", error=missing, seconds=0.0)
            continue
        target = os.path.join(out_dir, job.output)
        if not os.path.exists(target):
            todo.append(i)
            continue
        before = recorded.get(job.output)
        if before is None:
            entry.update(status="failed", seconds=0.0,
                         error=f"{target!r} exists but is not in this batch's manifest; it is left alone: "
                               f"move it away or choose another output folder")
            continue
        t0 = time.perf_counter()
        if before.get("status") in ("done", "skipped") and before.get("key") and \
                before.get("bytes") == os.path.getsize(target):
            try:
                key = keys(job)
            except CineGANError as e:
                entry.update(status="failed", error=one_line(e), seconds=time.perf_counter() - t0)
                continue
            if key == before["key"]:
                carried = {k: before.get(k) for k in RESULT_FIELDS + ("render_seconds",)}
                entry.update(carried, status="skipped", key=key, seconds=time.perf_counter() - t0)
                continue
        todo.append(i)
    return sorted(todo)
