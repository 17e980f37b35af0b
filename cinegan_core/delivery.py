"""Ready to post: the poster, the embed code and the A/B page that go with a loop.

A marketer's loop ends up on a web page (a ``<video>`` that plays muted and inline
on phones, with a still poster while it loads), in an email (a GIF: ``video.py``'s
"email" format) and in an A/B test (every variant side by side, with the files a
test tool needs). This module writes the pieces that are not the loop itself:

* ``write_poster``: the untouched photo at the video's size, as a JPEG;
* ``snippet``: the embed code: ``<video autoplay muted loop playsinline preload
  poster>`` with WebM and MP4 sources and an ``<img>`` fallback (WebP or GIF), and
  CSS that keeps the aspect ratio;
* ``ab_page``: a static ``index.html`` that plays every variant side by side with
  its name, settings, file sizes and quality figures and lists its files; it works
  from an unzipped folder with no server (relative links only, no script needed).

The files of one loop share a stem and are named by ``file_names`` (one place), so
a variant's name, and every file of it, stays the same across runs. Where they are
put: a render's cache entry holds its poster (``service``), a batch folder (the A/B
variants' zip is one) its embed codes and index.html (``batch.pages``).
"""
from __future__ import annotations

import html
import io
import json
import os

import numpy as np
from PIL import Image

from .video import atomic_output, even_pad

POSTER_QUALITY = 90   # JPEG quality of posters (progressive: a first view shows while it loads)
# what a variant can have, in the order pages list them; "email" is the email GIF
KINDS = ("mp4", "webm", "webp", "gif", "email", "poster", "snippet")
KIND_WORDS = {"mp4": "MP4", "webm": "WebM", "webp": "WebP", "gif": "GIF", "email": "Email GIF",
              "poster": "Poster", "snippet": "Embed code"}
_MIME = {"webm": "video/webm", "mp4": "video/mp4"}


def file_names(stem: str) -> dict[str, str]:
    """The file of each kind (``KINDS``) of the loop named `stem` ("cinegan-sea-calm"):
    stem.mp4, stem.webm, stem.webp, stem.gif, stem-email.gif, stem-poster.jpg, stem-embed.html."""
    return {"mp4": f"{stem}.mp4", "webm": f"{stem}.webm", "webp": f"{stem}.webp", "gif": f"{stem}.gif",
            "email": f"{stem}-email.gif", "poster": f"{stem}-poster.jpg", "snippet": f"{stem}-embed.html"}


def write_poster(rgb: np.ndarray, path) -> dict:
    """Write the poster: the untouched photo (rgb (H, W, 3) uint8 at render size) at the
    video's size (even sides, as the MP4 and WebM have: a repeated last row / column),
    JPEG quality POSTER_QUALITY, progressive. Written whole or not at all.
    Returns {"width", "height", "bytes"}."""
    frame = even_pad(np.ascontiguousarray(rgb, dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=POSTER_QUALITY, optimize=True, progressive=True)
    _write_bytes(path, buf.getvalue())
    return {"width": frame.shape[1], "height": frame.shape[0], "bytes": len(buf.getvalue())}


def snippet(files: dict[str, str], width: int, height: int, alt: str = "") -> str:
    """The embed code of one loop (an HTML fragment to paste into a page).

    files:  URLs (or names relative to the page) by kind: "webm", "mp4" (video sources, in
            that order: VP9 first, smaller; H.264 where VP9 does not play), "webp" or "gif"
            (the fallback image, WebP preferred), "poster". Kinds left out are left out.
    width, height: px of the loop; the element keeps this aspect ratio at any width.
    alt:    what the picture shows, for people who cannot see it.

    ``autoplay muted loop playsinline``: browsers, phones included, play a muted video
    by themselves and inline; ``preload="auto"`` starts loading at once; the poster shows
    until the first frame is ready. Without a video source the code is the ``<img>`` alone.
    """
    e = html.escape
    ratio = f"aspect-ratio:{width}/{height}"
    fallback = files.get("webp") or files.get("gif")
    img = (f'<img src="{e(fallback)}" width="{width}" height="{height}" alt="{e(alt)}" '
           f'style="display:block;width:100%;height:auto;{ratio}">') if fallback else ""
    sources = [f'  <source src="{e(files[k])}" type="{_MIME[k]}">' for k in ("webm", "mp4") if files.get(k)]
    if not sources:
        return img + "\n"
    poster = f' poster="{e(files["poster"])}"' if files.get("poster") else ""
    lines = [f'<video autoplay muted loop playsinline preload="auto"{poster} width="{width}" height="{height}"',
             f'  style="display:block;width:100%;height:auto;{ratio};object-fit:cover"'
             + (f' aria-label="{e(alt)}"' if alt else "") + ">", *sources]
    if img:
        lines.append("  " + img)
    lines.append("</video>")
    return "\n".join(lines) + "\n"


def _write_bytes(path, data: bytes) -> None:
    """Write a file whole or not at all; one that already holds these bytes is left as it is
    (a batch run again rewrites nothing that did not change)."""
    try:
        if os.path.getsize(path) == len(data):
            with open(path, "rb") as fh:
                if fh.read() == data:
                    return
    except OSError:
        pass
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def write_text(path, text: str) -> None:
    """Write a text file (UTF-8) whole or not at all (unless it already says this)."""
    _write_bytes(path, text.encode("utf-8"))


def variant(name: str, folder, files: dict[str, str], **facts) -> dict:
    """One variant for ``ab_page``: its stable name, its files (by kind, names relative to
    `folder`; those missing from the folder are left out, each kept with its size in
    bytes) and the facts shown with it: label (e.g. "A: calm"), width, height, frames,
    fps, settings (dict), quality (dict: seam_ratio, frozen_exact, moving_share)."""
    present = {}
    for kind in KINDS:
        name_ = files.get(kind)
        if name_ and os.path.isfile(os.path.join(folder, name_)):
            present[kind] = {"file": name_, "bytes": os.path.getsize(os.path.join(folder, name_))}
    return {"name": name, **facts, "files": present}


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB" if n >= 1000 else f"{n} bytes"


def _settings_words(v: dict) -> str:
    """The settings a person compares variants by, in a few words."""
    s = v.get("settings") or {}
    parts = []
    if s.get("preset"):
        parts.append(f"{s['preset']} (motion x{s.get('motion_scale', 1):g})")
    elif s.get("motion_scale", 1) != 1:
        parts.append(f"motion x{s['motion_scale']:g}")
    if v.get("frames") and v.get("fps"):
        parts.append(f"{v['frames'] / v['fps']:.3g} s at {v['fps']:g} fps")
    if v.get("width") and v.get("height"):
        parts.append(f"{v['width']}x{v['height']}")
    if s.get("aspect") and s["aspect"] != "original":
        parts.append(f"format {s['aspect']}")
    for region in ("sky", "water"):
        r = s.get(region) or {}
        words = [w for w in (r.get("style") not in (None, "auto") and r.get("style"),
                             r.get("direction") is not None and f"{r['direction']:g}°",
                             r.get("speed") is not None and f"speed {r['speed']:g}") if w]
        if words:
            parts.append(f"{region} " + " ".join(words))
    if s.get("arrows"):
        parts.append(f"{len(s['arrows'])} arrow(s)")
    return ", ".join(parts)


def _quality_words(q: dict | None) -> str:
    if not q:
        return ""
    parts = []
    if q.get("seam_ratio") is not None:
        parts.append(f"seam {q['seam_ratio']:.2f}")
    if q.get("frozen_exact") is not None:
        parts.append("still pixels exact" if q["frozen_exact"] else "still pixels NOT exact")
    if q.get("moving_share") is not None:
        parts.append(f"moving {q['moving_share']:.0%}")
    return ", ".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 4px}
p.note{margin:0 0 12px;color:#555}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px;align-items:start}
figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:8px;padding:8px}
figure video,figure img.loop{display:block;width:100%;height:auto;background:#eee}
figcaption h2{font-size:1.05rem;margin:8px 0 2px;word-break:break-all}
figcaption p{margin:2px 0;font-size:.9rem}
ul.files{margin:4px 0;padding-left:18px;font-size:.85rem}
details{font-size:.8rem;margin-top:4px}
pre{white-space:pre-wrap;word-break:break-all;background:#f3f3f3;padding:6px;margin:4px 0}
table{border-collapse:collapse;margin-top:20px;font-size:.85rem}
th,td{border:1px solid #ccc;padding:4px 6px;text-align:left}
"""


def _player(v: dict) -> str:
    """A playing loop of a variant: its video (WebM, then MP4) or, without one, its image."""
    e, f = html.escape, v["files"]
    w, h = v.get("width"), v.get("height")
    dims = f' width="{w}" height="{h}"' if w and h else ""
    sources = [f'<source src="{e(f[k]["file"])}" type="{_MIME[k]}">' for k in ("webm", "mp4") if k in f]
    if sources:
        poster = f' poster="{e(f["poster"]["file"])}"' if "poster" in f else ""
        return (f'<video autoplay muted loop playsinline preload="auto"{poster}{dims} '
                f'data-variant="{e(v["name"])}">' + "".join(sources) + "</video>")
    for kind in ("webp", "gif", "email", "poster"):
        if kind in f:
            return f'<img class="loop" src="{e(f[kind]["file"])}"{dims} alt="{e(v["name"])}">'
    return "<p>(no file)</p>"


def ab_page(variants: list[dict], title: str = "CineGAN variants", note: str = "") -> str:
    """The A/B page (index.html) of variants made by ``variant``: every variant playing side
    by side with its name, settings, file sizes and quality figures, then a table of the
    files a test tool needs per variant. Static HTML with relative links: it works from
    the unzipped folder, with no server. The variants' data is also in the page as JSON
    (``<script type="application/json" id="cinegan-variants">``)."""
    e = html.escape
    cards = []
    for v in variants:
        f = v["files"]
        items = "".join(f'<li><a href="{e(f[k]["file"])}">{e(f[k]["file"])}</a> ({KIND_WORDS[k]}, '
                        f'{_size(f[k]["bytes"])})</li>' for k in KINDS if k in f)
        label = f"<p><b>{e(v['label'])}</b></p>" if v.get("label") else ""
        quality = _quality_words(v.get("quality"))
        cards.append(
            f'<figure id="{e(v["name"])}">{_player(v)}<figcaption><h2>{e(v["name"])}</h2>{label}'
            f"<p>{e(_settings_words(v))}</p>" + (f"<p>Quality: {e(quality)}</p>" if quality else "")
            + f'<ul class="files">{items}</ul>'
            + (f"<details><summary>All settings</summary><pre>{e(json.dumps(v['settings'], indent=1))}</pre>"
               "</details>" if v.get("settings") else "")
            + "</figcaption></figure>")
    kinds = [k for k in KINDS if any(k in v["files"] for v in variants)]
    head = "".join(f"<th>{KIND_WORDS[k]}</th>" for k in kinds)
    rows = []
    for v in variants:
        f = v["files"]
        cells = "".join(f'<td><a href="{e(f[k]["file"])}">{e(f[k]["file"])}</a></td>' if k in f else "<td></td>"
                        for k in kinds)
        rows.append(f"<tr><td>{e(v['name'])}</td>{cells}</tr>")
    data = json.dumps(variants, indent=1).replace("</", "<\\/")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{e(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>"
            + (f'<p class="note">{e(note)}</p>' if note else "")
            + f'<div class="grid">{"".join(cards)}</div>'
            f"<h2>Files for a test tool</h2><table><thead><tr><th>Variant</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<script type="application/json" id="cinegan-variants">{data}</script></body></html>\n')
