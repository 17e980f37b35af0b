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

Every job is rendered with the same ``RenderSettings`` and cache key as the app
(``service.render_key``: the photo's pixels at render size, the mask, the motion
file, every setting and the identity of the engine used) into
``OUT/cinegan-<photo>[-<preset>][-<other varied values>].<format>``, and
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
through the disk cache (``pipeline.auto_labels_cached``, keyed by the photo's
pixels, under a lock). Ray tasks get the input files' bytes through Ray's object
store (one copy per file) and send the finished video back, so the nodes need no
shared folder; they do need cinegan_core's dependencies (the package itself is
shipped with the job).

Note: ``cinegan_core.batch`` is the function; this module is
``sys.modules["cinegan_core.batch"]`` (``from cinegan_core.batch import ...`` works).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import hashlib
import itertools
import json
import math
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from .delivery import file_names
from .errors import CineGANError
from .service import output_stem
from .settings import RenderSettings

try:
    import fcntl
except ImportError:  # not on POSIX: no folder lock
    fcntl = None

Progress = Callable[[dict], None]

MANIFEST = "manifest.json"
INDEX = "index.html"   # the A/B page over the campaign's loops (``delivery.ab_page``)
MANIFEST_VERSION = 1
LOCK_NAME = ".cinegan-batch.lock"
FILE_COLUMNS = ("photo", "mask", "motion")   # paths, relative to the jobs file
SPECIAL = FILE_COLUMNS + ("name",)
LIST_SEPARATOR = "|"
MANIFEST_EVERY = 1.0  # s: the manifest is rewritten at most this often while jobs finish (and at the end)


# ---------------------------------------------------------------------------------------------
# Reading jobs files
# ---------------------------------------------------------------------------------------------
def _field_types() -> dict[str, str]:
    """RenderSettings field -> its annotation (a string: the module uses postponed annotations)."""
    return {f.name: str(f.type) for f in dataclasses.fields(RenderSettings)}


def _nested_fields() -> dict[str, tuple[str, str]]:
    """Flat names of the settings' nested fields ("sky_direction" -> ("sky", "direction"))."""
    out = {}
    for f in dataclasses.fields(RenderSettings):
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if dataclasses.is_dataclass(default):
                for sub in dataclasses.fields(default):
                    out[f"{f.name}_{sub.name}"] = (f.name, sub.name)
    return out


def _column(name) -> str:
    """A column name as the batch knows it: lower case, "-" and "." as "_"."""
    return re.sub(r"[-.\s]+", "_", str(name).strip().lower())


def _role(name: str) -> str:
    """What a (normalised) column is: "special", "setting", "nested", "list" or "unknown"."""
    fields = _field_types()
    if name in SPECIAL:
        return "special"
    if name in fields or name == "seconds":
        return "setting"
    if name in _nested_fields():
        return "nested"
    if name.endswith("s") and name[:-1] in fields:
        return "list"
    return "unknown"


def known_columns() -> str:
    """The column names a jobs file may use, for messages."""
    names = list(SPECIAL) + list(_field_types()) + ["seconds"] + list(_nested_fields())
    return ", ".join(names) + " (and a setting's plural, e.g. presets, for several values)"


@dataclass
class Row:
    """One row of a jobs file: its values (normalised names, blanks dropped) and where it is."""

    values: dict
    where: str


def read_jobs(path) -> list[Row]:
    """The rows of a jobs file (.csv or .json). CineGANError for a missing or
    unreadable file, a CSV header with unknown columns or JSON of the wrong shape."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CineGANError(f"jobs file {path!r} does not exist")
    ext = os.path.splitext(path)[1].lower()
    label = os.path.basename(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise CineGANError(f"cannot read jobs file {path!r}: {e}") from None
    if ext == ".csv":
        return _csv_rows(text, label)
    if ext == ".json":
        try:
            data = json.loads(text)
        except ValueError as e:
            raise CineGANError(f"jobs file {path!r} is not valid JSON: {e}") from None
        return rows_from_data(data, label)
    raise CineGANError(f"jobs file {path!r} must be a .csv or .json file")


def _csv_rows(text: str, label: str) -> list[Row]:
    reader = csv.reader(text.splitlines(keepends=True))
    header, rows = None, []
    for cells in reader:
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [_column(c) for c in cells]
            unknown = [c for c in header if _role(c) == "unknown"]
            if unknown or len(set(header)) != len(header) or "photo" not in header:
                problem = (f"unknown column(s) {', '.join(unknown)}" if unknown else
                           "a column appears twice" if len(set(header)) != len(header) else "no 'photo' column")
                raise CineGANError(f"{label}: {problem}; columns: {known_columns()}")
            continue
        where = f"{label} line {reader.line_num}"
        if len(cells) > len(header):
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                rows.append(Row({"__error__": f"{len(cells)} cells for {len(header)} columns "
                                              f"(a value with a comma must be in double quotes)"}, where))
                continue
        values = {h: c.strip() for h, c in zip(header, cells) if c.strip()}
        rows.append(Row(values, where))
    if header is None:
        raise CineGANError(f"{label} is empty: it needs a header row naming the columns (photo, preset, ...)")
    return rows


def rows_from_data(data, label: str | None = None) -> list[Row]:
    """Rows from JSON-like data: a list of dicts, or {"defaults": {...}, "jobs": [...]}."""
    defaults = {}
    if isinstance(data, dict):
        unknown = set(data) - {"defaults", "jobs"}
        if unknown or "jobs" not in data:
            raise CineGANError(f"{label or 'jobs'}: expected a list of jobs or "
                               f"{{\"defaults\": {{...}}, \"jobs\": [...]}}")
        defaults = data.get("defaults") or {}
        data = data["jobs"]
        if not isinstance(defaults, dict):
            raise CineGANError(f"{label or 'jobs'}: \"defaults\" must be an object of column: value")
    if not isinstance(data, list):
        raise CineGANError(f"{label or 'jobs'}: expected a list of jobs (objects with at least a \"photo\")")
    rows = []
    for i, item in enumerate(data):
        where = f"{label} jobs[{i}]" if label else f"jobs[{i}]"
        if not isinstance(item, dict):
            rows.append(Row({"__error__": f"a job must be an object, got {type(item).__name__}"}, where))
            continue
        values = {}
        for k, v in list(defaults.items()) + list(item.items()):
            if v is None or (isinstance(v, str) and not v.strip()):
                continue
            values[_column(k)] = v.strip() if isinstance(v, str) else v
        rows.append(Row(values, where))
    return rows


# ---------------------------------------------------------------------------------------------
# Rows -> jobs
# ---------------------------------------------------------------------------------------------
@dataclass
class Job:
    """One render of a batch.

    where:    the row it comes from ("campaign.csv line 3").
    photo, mask, motion: absolute paths (mask / motion None: automatic / from settings).
    label:    the photo as the jobs file names it; name: the name its output carries.
    settings: the RenderSettings (None when the row is invalid: see error).
    variant:  the values this job took from list columns ({"preset": "calm"}).
    output:   the output's file name in the batch folder (None for an invalid row).
    stem:     the name its loop's files share (``delivery.file_names``): the jobs that differ
              only in format share it, and with it a poster and an embed code.
    error:    why the job cannot run (one line), or None.
    """

    where: str
    photo: str | None = None
    mask: str | None = None
    motion: str | None = None
    label: str | None = None
    name: str | None = None
    settings: RenderSettings | None = None
    variant: dict = field(default_factory=dict)
    output: str | None = None
    stem: str | None = None
    error: str | None = None


def _typed(name: str, value):
    """A CSV cell for a numeric field as a number (RenderSettings validates it);
    anything that is not a number is passed on as it is."""
    kind = _field_types().get(name, "")
    if not isinstance(value, str) or not ("int" in kind or "float" in kind or name == "seconds"):
        return value
    try:
        x = float(value)
    except ValueError:
        return value
    return int(x) if "int" in kind and x.is_integer() else x


def _split(value) -> list:
    """The values of a list column: a JSON list, or "a|b|c" (blanks dropped)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
    return [value]


def make_settings(values: dict) -> RenderSettings:
    """RenderSettings from a row's setting values (flat nested names allowed)."""
    data, nested = {}, _nested_fields()
    for name, value in values.items():
        if name in nested:
            parent, sub = nested[name]
            region = data.setdefault(parent, {})
            if not isinstance(region, dict):
                raise CineGANError(f"give {parent} either as {parent}_* columns or as one value, not both")
            region[sub] = value
        elif isinstance(data.get(name), dict) and isinstance(value, dict):
            data[name].update(value)
        else:
            data[name] = _typed(name, value)
    return RenderSettings.from_dict(data)


def _resolve(base_dir: str, value) -> str:
    path = os.path.expanduser(str(value))
    return os.path.normpath(path if os.path.isabs(path) else os.path.join(base_dir, path))


def expand_row(row: Row, base_dir: str) -> list[Job]:
    """The jobs of one row: one per combination of its list columns' values."""
    values = dict(row.values)
    if "__error__" in values:
        return [Job(where=row.where, error=values["__error__"])]
    unknown = sorted(k for k in values if _role(k) == "unknown")
    if unknown:
        return [Job(where=row.where, error=f"unknown column(s) {', '.join(unknown)}; "
                                           f"columns: {known_columns()}")]
    photo = values.pop("photo", None)
    if photo is None:
        return [Job(where=row.where, error="no photo given (the 'photo' column is empty)")]
    job = Job(where=row.where, label=str(photo), photo=_resolve(base_dir, photo),
              mask=_resolve(base_dir, values.pop("mask")) if "mask" in values else None,
              motion=_resolve(base_dir, values.pop("motion")) if "motion" in values else None,
              name=str(values.pop("name")) if "name" in values else None)
    lists = {k[:-1]: _split(values.pop(k)) for k in list(values) if _role(k) == "list"}
    for name in lists:
        if name in values:
            return [dataclasses.replace(job, error=f"give either {name} or {name}s, not both")]
        if not lists[name]:
            return [dataclasses.replace(job, error=f"{name}s is empty")]
    for name in list(values):  # "a|b" in a setting's own column expands too ("frames": "24|48")
        if isinstance(values[name], str) and LIST_SEPARATOR in values[name]:
            lists[name] = _split(values.pop(name))
    jobs = []
    for combo in itertools.product(*lists.values()):
        variant = dict(zip(lists, combo))
        try:
            settings = make_settings({**values, **variant})
        except CineGANError as e:
            jobs.append(dataclasses.replace(job, variant=variant, error=str(e)))
            continue
        jobs.append(dataclasses.replace(job, variant=variant, settings=settings))
    return jobs


def _slug(name: str, value) -> str:
    """A file-name part for a varied value: "16:9" -> "16x9", 24 -> "frames24"."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"(?<=\d):(?=\d)", "x", str(value))
    text = re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-.")[:24] or "x"
    if isinstance(value, (int, float)) or re.fullmatch(r"[0-9.]+", text):
        text = name.replace("_", "") + text
    return text


def _job_digest(job: Job) -> str:
    blob = json.dumps([job.photo, job.mask, job.motion, job.settings.key()], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:6]


def name_outputs(jobs: list[Job]) -> None:
    """Give every valid job its output file name, unique within the batch:
    ``service.output_stem`` of the photo (or the row's name) and settings, plus the
    values the job took from list columns that the name does not hold yet, and the
    format's file (``delivery.file_names``: the extension; the email GIF ...-email.gif).
    Jobs that would still share a name get a short digest of their inputs and settings
    (stable across runs), then -2, -3..."""
    named = [j for j in jobs if j.error is None]
    for j in named:
        stem = output_stem(j.name or j.label, j.settings)
        for key, value in j.variant.items():
            if key == "format":
                continue
            part = _slug(key, value)
            if f"-{part}-".lower() not in f"-{stem}-".lower():
                stem += "-" + part
        _name(j, stem)
    counts: dict[str, int] = {}
    for j in named:
        counts[j.output.lower()] = counts.get(j.output.lower(), 0) + 1
    for j in named:
        if counts[j.output.lower()] > 1:
            _name(j, f"{j.stem}-{_job_digest(j)}")
    seen: dict[str, int] = {}
    for j in named:
        n = seen.get(j.output.lower(), 0) + 1
        seen[j.output.lower()] = n
        if n > 1:
            _name(j, f"{j.stem}-{n}")


def _name(job: Job, stem: str) -> None:
    job.stem, job.output = stem, file_names(stem)[job.settings.format]


def plan(jobs, base_dir: str | None = None) -> list[Job]:
    """The named jobs of a jobs file path, a list of row dicts, or
    {"defaults", "jobs"} data; relative paths are taken from the jobs file's
    folder (or base_dir, default the current folder, for data)."""
    if isinstance(jobs, (str, os.PathLike)):
        rows = read_jobs(jobs)
        base = base_dir or os.path.dirname(os.path.abspath(os.fspath(jobs)))
    else:
        rows = rows_from_data(jobs)
        base = base_dir or os.getcwd()
    out = [job for row in rows for job in expand_row(row, os.path.abspath(base))]
    if not out:
        raise CineGANError("the jobs file holds no jobs (a header row and at least one row with a photo)")
    name_outputs(out)
    return out


# ---------------------------------------------------------------------------------------------
# Rendering one job (in this process, a pool worker or a Ray task)
# ---------------------------------------------------------------------------------------------
def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, CineGANError):
        return text or "error"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


_CACHES: dict = {}


def _cache(root: str | None):
    from .cache import Cache
    root = os.path.abspath(root) if root else None
    if root not in _CACHES:
        _CACHES[root] = Cache(root)
    return _CACHES[root]


def set_threads(threads: int | None) -> None:
    """Limit torch's and OpenCV's threads in this process (None: leave them)."""
    if not threads:
        return
    import cv2
    import torch
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


# what a job's manifest entry keeps of its render (also when a later run skips it)
RESULT_FIELDS = ("engine", "engine_message", "width", "height", "frames", "bytes", "notes", "warnings", "quality")


def render_job(task: dict) -> dict:
    """Render one job; never raises for the job's own errors.

    task: {"photo", "mask", "motion": paths (None = not given); "settings":
           RenderSettings.to_dict(); "output": the file to write (atomically);
           "device", "weights", "cache_dir"}.
    Returns {"status": "done", "key", "seconds", "engine", "engine_message",
    "width", "height", "frames", "bytes", "notes", "quality"} or
    {"status": "failed", "error": one line, "seconds"}.
    """
    from .pipeline import render
    from .service import render_inputs
    t0 = time.perf_counter()
    try:
        settings = RenderSettings.from_dict(task["settings"])
        photo, motion, eng, message, key = render_inputs(task["photo"], settings, mask=task.get("mask"),
                                                         motion=task.get("motion"), device=task.get("device"),
                                                         weights=task.get("weights"))
        info = render(photo, task["output"], settings, mask=task.get("mask"), motion=motion, renderer=eng,
                      cache=_cache(task.get("cache_dir")))
    except Exception as e:  # one job's failure is recorded; the batch goes on
        return {"status": "failed", "error": _one_line(e), "seconds": time.perf_counter() - t0}
    result = dict(info, engine_message=message, bytes=os.path.getsize(task["output"]))
    return {"status": "done", "key": key, "seconds": time.perf_counter() - t0,
            **{k: result[k] for k in RESULT_FIELDS}}


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


# ---------------------------------------------------------------------------------------------
# The manifest
# ---------------------------------------------------------------------------------------------
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
        raise CineGANError(f"{path!r} cannot be read ({_one_line(e)}); move it away to start the batch "
                           f"over, or choose another output folder") from None
    return data


def write_manifest(out_dir: str, data: dict) -> None:
    """Write the manifest atomically (temporary file + rename)."""
    from .video import atomic_output
    text = json.dumps(_jsonable(data), indent=1)
    with atomic_output(os.path.join(out_dir, MANIFEST)) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


def _entry(job: Job) -> dict:
    return {"row": job.where, "photo": job.photo, "mask": job.mask, "motion": job.motion,
            "variant": job.variant, "settings": None if job.settings is None else job.settings.to_dict(),
            "output": job.output, "status": "failed" if job.error else "pending", "seconds": None,
            "error": job.error, "key": None, "quality": None}


@contextlib.contextmanager
def _folder_lock(out_dir: str):
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


# ---------------------------------------------------------------------------------------------
# Resuming: which jobs are already done
# ---------------------------------------------------------------------------------------------
class _Keys:
    """Cache keys of jobs, computed as the render would (``service.render_key``); the
    photo decoded last is kept (call in photo order), engines are picked once."""

    def __init__(self, device, weights):
        self.device, self.weights = device, weights
        self._photo = (None, None)
        self._engines: dict = {}

    def __call__(self, job: Job) -> str:
        from .pipeline import engine_identity, load_settings_photo, pick_engine
        from .service import render_inputs
        s = job.settings
        loaded_as = (job.photo, s.max_side, s.aspect, s.crop)
        if self._photo[0] != loaded_as:
            self._photo = (loaded_as, load_settings_photo(job.photo, s))
        if s.engine not in self._engines:
            self._engines[s.engine] = engine_identity(pick_engine(s.engine, self.device, self.weights)[0])
        return render_inputs(self._photo[1], s, mask=job.mask, motion=job.motion,
                             engine_id=self._engines[s.engine])[-1]


def _missing_input(job: Job) -> str | None:
    for what in FILE_COLUMNS:
        path = getattr(job, what)
        if path is not None and not os.path.isfile(path):
            return f"{what} {path!r} does not exist"
    return None


def _triage(jobs: list[Job], entries: list[dict], out_dir: str, old: dict, keys: _Keys) -> list[int]:
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
                entry.update(status="failed", error=_one_line(e), seconds=time.perf_counter() - t0)
                continue
            if key == before["key"]:
                carried = {k: before.get(k) for k in RESULT_FIELDS + ("render_seconds",)}
                entry.update(carried, status="skipped", key=key, seconds=time.perf_counter() - t0)
                continue
        todo.append(i)
    return sorted(todo)


# ---------------------------------------------------------------------------------------------
# Ready to post: posters, embed code, the A/B page
# ---------------------------------------------------------------------------------------------
def deliver(out_dir: str, jobs: list[Job], entries: list[dict], ours=()) -> list[str]:
    """Beside each finished loop, its poster and embed code (one each per stem: the jobs
    that differ only in format share them), and over the campaign, index.html: every loop
    playing side by side with its settings, sizes, quality figures and files
    (``delivery.ab_page``). Posters are written again for loops rendered in this run.

    ours: the files an earlier run wrote (the manifest's "delivery"): only those, or names
          not taken, are written; another file of that name is left alone.
    Returns the files the batch now owns (for the manifest)."""
    from .delivery import ab_page, snippet, variant, write_poster, write_text
    from .pipeline import load_settings_photo
    ours = set(ours)

    def free(name: str) -> bool:
        return name in ours or not os.path.lexists(os.path.join(out_dir, name))

    groups: dict[str, list[tuple[Job, dict]]] = {}
    for job, entry in zip(jobs, entries):
        if entry["status"] in ("done", "skipped") and job.stem:
            groups.setdefault(job.stem, []).append((job, entry))
    written, variants, photo = [], [], (None, None)
    for stem, members in groups.items():
        names = file_names(stem)
        job, entry = members[0]
        files = {j.settings.format: j.output for j, _ in members}
        s = job.settings
        w, h = entry["width"] + entry["width"] % 2, entry["height"] + entry["height"] % 2  # the video's size
        poster = os.path.join(out_dir, names["poster"])
        if free(names["poster"]):
            if any(e["status"] == "done" for _, e in members) or not os.path.exists(poster):
                if photo[0] != (job.photo, s.max_side, s.aspect, s.crop):
                    photo = ((job.photo, s.max_side, s.aspect, s.crop), load_settings_photo(job.photo, s).rgb)
                write_poster(photo[1], poster)
            files["poster"] = names["poster"]
        if free(names["snippet"]):
            write_text(os.path.join(out_dir, names["snippet"]), snippet(files, w, h))
            files["snippet"] = names["snippet"]
        written += [files[k] for k in ("poster", "snippet") if k in files]
        shown = {k: v for k, v in (entry.get("settings") or {}).items() if k != "format"}
        varied = ", ".join(f"{k} {v}" for k, v in job.variant.items() if k != "format")
        variants.append(variant(stem, out_dir, files, label=entry["row"] + (f": {varied}" if varied else ""), width=w, height=h, frames=entry["frames"],
                                fps=s.fps, settings=shown, quality=entry.get("quality")))
    if variants and free(INDEX):
        write_text(os.path.join(out_dir, INDEX), ab_page(variants, f"CineGAN campaign: {len(variants)} loops",
                                                         "Every loop of this batch, playing side by side. "
                                                         "manifest.json holds the same facts as data."))
        written.append(INDEX)
    return sorted(set(written))


# ---------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------
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
          weights=None, cache_dir: str | None = None, progress: Progress | None = None,
          ray_gpus: float = 0.0, base_dir: str | None = None) -> BatchReport:
    """Render a campaign: every job of a jobs file into one folder, with a manifest.

    jobs:      a .csv / .json jobs file, or its rows as a list of dicts (or
               {"defaults": {...}, "jobs": [...]}); see the module docstring.
    out:       output folder (created); the videos and manifest.json go there.
    workers:   processes on this machine (default 1: in this process); with
               ray="local" the CPUs of the local Ray (default: all).
    ray:       None (no Ray), "local", "auto" or a cluster address (needs the Ray extra).
    device, weights: as for ``render``; cache_dir: the cache for per-photo work
               (default $CINEGAN_CACHE or ~/.cache/cinegan).
    progress:  progress({"stage": "batch", "step": jobs finished, "total": jobs}).
    ray_gpus:  GPUs (or a fraction) each Ray task asks for.
    base_dir:  folder that relative paths in row dicts start from (default: the
               jobs file's folder, or the current folder for rows).
    Returns a BatchReport; failed jobs are in it (and the manifest), not raised.
    Raises CineGANError only for problems with the whole batch (jobs file, folder).
    """
    t0 = time.perf_counter()
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise CineGANError(f"workers must be a whole number of at least 1, got {workers!r}")
    if not (isinstance(ray_gpus, (int, float)) and math.isfinite(ray_gpus) and ray_gpus >= 0):
        raise CineGANError(f"ray_gpus must be a number of at least 0, got {ray_gpus!r}")
    planned = plan(jobs, base_dir)
    out_dir = os.path.abspath(os.fspath(out))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise CineGANError(f"cannot create the output folder {out_dir!r}: {e}") from None
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    with _folder_lock(out_dir):
        old = read_manifest(out_dir)
        entries = [_entry(j) for j in planned]
        todo = _triage(planned, entries, out_dir, old, _Keys(device, weights))
        manifest = {"version": MANIFEST_VERSION,
                    "jobs_file": os.path.abspath(jobs) if isinstance(jobs, (str, os.PathLike)) else None,
                    "started": started, "finished": None, "summary": None, "jobs": entries}

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

        tasks = {i: _task(planned[i], out_dir, device, weights, cache_dir) for i in todo}
        manifest["delivery"] = list(old.get("delivery") or [])
        try:
            if not tasks:
                pass
            elif ray:
                _run_ray(tasks, out_dir, record, ray, workers, ray_gpus)
            elif (workers or 1) > 1 and len(tasks) > 1:
                _run_pool(tasks, record, workers)
            else:
                for i, task in tasks.items():
                    record(i, render_job(task))
            manifest["delivery"] = deliver(out_dir, planned, entries, manifest["delivery"])
        finally:
            save(final=True)
    return BatchReport(out_dir, os.path.join(out_dir, MANIFEST), entries, time.perf_counter() - t0)


def _task(job: Job, out_dir: str, device, weights, cache_dir) -> dict:
    return {"photo": job.photo, "mask": job.mask, "motion": job.motion, "settings": job.settings.to_dict(),
            "output": os.path.join(out_dir, job.output), "device": device,
            "weights": None if weights is None else os.path.abspath(os.fspath(weights)),
            "cache_dir": None if cache_dir is None else os.path.abspath(cache_dir)}


def _run_pool(tasks: dict[int, dict], record: Callable[[int, dict], None], workers: int) -> None:
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
    package = os.path.dirname(os.path.abspath(__file__))
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
        raise CineGANError(f"could not start or join Ray ({address}): {_one_line(e)}") from None
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
        raise CineGANError(f"cannot reach the Ray cluster at {address} ({_one_line(e)}); is it running "
                           f"(ray start --head) and is the address right?") from None


def _run_ray(tasks: dict[int, dict], out_dir: str, record, address: str, workers, gpus: float) -> None:
    """Render as Ray tasks; each input file goes into the object store once."""
    from .video import atomic_output
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
                record(i, {"status": "failed", "error": _one_line(e), "seconds": 0.0})
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
                    result = {"status": "failed", "error": f"Ray task failed: {_one_line(e)}", "seconds": None}
                record(i, result)
