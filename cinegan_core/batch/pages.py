"""Ready to post: beside each loop of a batch its poster and embed code, and the campaign's A/B page.

The jobs that differ only in format share a stem (``Job.stem``) and with it one
poster (the untouched photo at the video's size, from the render's cache entry:
``runners.render_job`` copies it out with the loop) and one embed code naming the
formats the batch made of it (``delivery.snippet``). ``OUT/index.html`` plays
every loop of the campaign side by side with its settings, file sizes, quality
figures and files (``delivery.ab_page``). The manifest's "delivery" lists the
files written here: a file of such a name that the batch did not write is left alone.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..delivery import ab_page, file_names, snippet, variant, write_text

if TYPE_CHECKING:
    from .jobs import Job

INDEX = "index.html"
NOTE = ("Every loop plays muted and looping, side by side. A test tool takes the files listed per loop; "
        "manifest.json holds the same facts as data.")


def _free(out_dir: str, name: str, ours) -> bool:
    """May the batch write `name` in out_dir: it wrote it before (ours), or nothing has that name."""
    return name in ours or not os.path.lexists(os.path.join(out_dir, name))


def poster_names(jobs: list[Job], out_dir: str, ours=()) -> dict[str, str]:
    """{stem: its poster's file name} for the stems of the valid jobs whose poster the batch
    may write (``_free``; ours: the files an earlier run wrote, the manifest's "delivery")."""
    names = {j.stem: file_names(j.stem)["poster"] for j in jobs if j.error is None and j.stem}
    return {stem: n for stem, n in names.items() if _free(out_dir, n, set(ours))}


def deliver(out_dir: str, jobs: list[Job], entries: list[dict], posters: dict[str, str], ours=(),
            title: str | None = None) -> list[str]:
    """Write the embed codes and index.html of a batch folder.

    jobs, entries: the batch's jobs and their manifest entries (done and skipped ones count).
    posters: {stem: poster file} the batch owns (``poster_names``); those present are shown.
    ours:  the files an earlier run wrote (the manifest's "delivery"): only those, or names
           not taken, are written; nothing is rewritten that would not change.
    title: index.html's (default: the campaign's loops counted).
    Returns the files the batch now owns (for the manifest)."""
    ours = set(ours) | set(posters.values())
    groups: dict[str, list[tuple[Job, dict]]] = {}
    for job, entry in zip(jobs, entries):
        if entry["status"] in ("done", "skipped") and job.stem:
            groups.setdefault(job.stem, []).append((job, entry))
    written = {n for n in posters.values() if os.path.isfile(os.path.join(out_dir, n))}
    variants = []
    for stem, members in groups.items():
        names = file_names(stem)
        job, entry = members[0]
        files = {j.settings.format: j.output for j, _ in members}
        w, h = entry["width"] + entry["width"] % 2, entry["height"] + entry["height"] % 2  # the video's size
        if stem in posters and os.path.isfile(os.path.join(out_dir, posters[stem])):
            files["poster"] = posters[stem]
        if _free(out_dir, names["snippet"], ours):
            write_text(os.path.join(out_dir, names["snippet"]), snippet(files, w, h))
            files["snippet"] = names["snippet"]
            written.add(names["snippet"])
        shown = {k: v for k, v in (entry.get("settings") or {}).items() if k != "format"}
        varied = ", ".join(f"{k} {v}" for k, v in job.variant.items() if k != "format")
        variants.append(variant(stem, out_dir, files, label=entry["row"] + (f": {varied}" if varied else ""),
                                width=w, height=h, frames=entry["frames"], fps=job.settings.fps, settings=shown,
                                quality=entry.get("quality")))
    if variants and _free(out_dir, INDEX, ours):
        write_text(os.path.join(out_dir, INDEX), ab_page(variants, title or f"CineGAN campaign: {len(variants)} loops",
                                                         NOTE))
        written.add(INDEX)
    return sorted(written)
