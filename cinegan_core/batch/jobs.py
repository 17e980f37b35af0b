"""Jobs files: reading rows (CSV or JSON) and expanding each into jobs.

A row names a photo (and optionally a mask, a motion file, a name) and any
``RenderSettings`` field under its own name, the per-region motion as flat
names (``sky_direction``, ``water_style``...); several values separated by "|"
in a setting's column, or in its plural (``presets``, ``formats``...), make one
job per combination. Column names are case-insensitive, "-" and "." count as
"_", empty cells are "not given", lines whose first cell starts with "#" are
comments. See the package docstring for the whole format.
"""
from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import os
import re
from dataclasses import dataclass, field

from ..errors import CineGANError
from ..settings import RenderSettings, known_names, to_settings
from .naming import name_outputs

FILE_COLUMNS = ("photo", "mask", "motion")   # paths, relative to the jobs file
SPECIAL = FILE_COLUMNS + ("name",)
LIST_SEPARATOR = "|"


# -- reading jobs files ------------------------------------------------------------------------
def _column(name) -> str:
    """A column name as the batch knows it: lower case, "-" and "." as "_"."""
    return re.sub(r"[-.\s]+", "_", str(name).strip().lower())


def _role(name: str) -> str:
    """What a (normalised) column is: "special", "setting", "list" or "unknown"."""
    if name in SPECIAL:
        return "special"
    known = known_names()
    if name in known:
        return "setting"
    if name.endswith("s") and name[:-1] in known:
        return "list"
    return "unknown"


def known_columns() -> str:
    """The column names a jobs file may use, for messages."""
    return ", ".join(list(SPECIAL) + known_names()) + " (and a setting's plural, e.g. presets, for several values)"


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


# -- rows -> jobs ------------------------------------------------------------------------------
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
    given:    the mask and motion as the row gave them (for the manifest).
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
    given: dict = field(default_factory=dict)


def _split(value) -> list:
    """The values of a list column: a JSON list, or "a|b|c" (blanks dropped)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [v.strip() for v in value.split(LIST_SEPARATOR) if v.strip()]
    return [value]


def make_settings(values: dict) -> RenderSettings:
    """RenderSettings from a row's setting values (``settings.to_settings``: the flat names
    every surface uses; CSV text is read as numbers where a number is meant)."""
    return to_settings(values)


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
    given = {k: str(values[k]) for k in FILE_COLUMNS[1:] if k in values}
    job = Job(where=row.where, label=str(photo), photo=_resolve(base_dir, photo),
              mask=_resolve(base_dir, values.pop("mask")) if "mask" in values else None,
              motion=_resolve(base_dir, values.pop("motion")) if "motion" in values else None,
              name=str(values.pop("name")) if "name" in values else None, given=given)
    lists = {k[:-1]: (k, _split(values.pop(k))) for k in list(values) if _role(k) == "list"}
    for name in lists:
        if name in values:
            return [dataclasses.replace(job, error=f"give either {name} or {name}s, not both")]
    for name in list(values):  # "a|b" in a setting's own column expands too ("frames": "24|48")
        if isinstance(values[name], str) and LIST_SEPARATOR in values[name]:
            lists[name] = (name, _split(values[name]))
            values.pop(name)
    for name, (column, items) in lists.items():
        if not items:
            return [dataclasses.replace(job, error=f"{column} lists no values: give one, or several "
                                                   f"separated by '{LIST_SEPARATOR}'")]
    lists = {name: items for name, (_, items) in lists.items()}
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
