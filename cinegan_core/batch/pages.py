"""Ready to post: beside each loop of a batch its poster and embed code, and the campaign's A/B page.

The jobs that differ only in format share a stem (``Job.stem``) and with it one
poster (the untouched photo at the video's size) and one embed code naming the
formats the batch made of it (``delivery.snippet``). ``OUT/index.html`` plays
every loop of the campaign side by side with its settings, file sizes, quality
figures and files (``delivery.ab_page``). The manifest's "delivery" lists the
files written here: a file of such a name that the batch did not write is left alone.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..delivery import ab_page, file_names, snippet, variant, write_poster, write_text

if TYPE_CHECKING:
    from .jobs import Job

INDEX = "index.html"


def deliver(out_dir: str, jobs: list[Job], entries: list[dict], ours=()) -> list[str]:
    """Write the posters, embed codes and index.html of a batch folder.

    jobs, entries: the batch's jobs and their manifest entries (done and skipped ones count).
    ours:  the files an earlier run wrote (the manifest's "delivery"): only those, or names
           not taken, are written. Posters are written again for loops rendered in this run;
           nothing is rewritten that would not change.
    Returns the files the batch now owns (for the manifest)."""
    from ..pipeline import load_settings_photo
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
        variants.append(variant(stem, out_dir, files, label=entry["row"] + (f": {varied}" if varied else ""),
                                width=w, height=h, frames=entry["frames"], fps=s.fps, settings=shown,
                                quality=entry.get("quality")))
    if variants and free(INDEX):
        write_text(os.path.join(out_dir, INDEX), ab_page(variants, f"CineGAN campaign: {len(variants)} loops",
                                                         "Every loop of this batch, playing side by side. "
                                                         "manifest.json holds the same facts as data."))
        written.append(INDEX)
    return sorted(set(written))
