"""Output names of a batch's jobs: unique within the batch and stable across runs.

``service.output_stem`` of the photo (or the row's name) and settings, plus the
values a job took from list columns that the name does not hold yet, and the
format's file (``delivery.file_names``); jobs that would still share a name get a
short digest of their inputs, then -2, -3...
"""
from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .jobs import Job


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
    """Give every valid job its stem and output file name, unique within the batch:
    ``service.output_stem`` of the photo (or the row's name) and settings, plus the
    values the job took from list columns that the name does not hold yet, and the
    format's file (``delivery.file_names``: the extension; the email GIF ...-email.gif).
    Jobs that would still share a name get a short digest of their inputs and settings
    (stable across runs), then -2, -3..."""
    from ..service import output_stem  # the names a user gets from the app too
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
    from ..delivery import file_names
    job.stem, job.output = stem, file_names(stem)[job.settings.format]
