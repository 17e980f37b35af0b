"""CineGAN web app: photo in, seamless cinemagraph out.

Thin on purpose: widgets call ``cinegan_core``; everything that can be tested
without a browser lives there. Runs locally on CPU (``python app.py``) and on
Hugging Face Spaces (ZeroGPU included) unchanged.

The page is laid out for a first screen of 1280x800: the photo and the mask on
the left; the format, Generate, the progress and the playing result on the
right; motion, loop and A/B settings in closed accordions below them. What a
visitor reads is in plain words: no checkpoints, flags, paths or engine names.
"""
import os

# torch's OpenMP threads wait passively: spinning ones made a parse take 1.5-5 s instead of 0.2 s
# when another process shared the cores (bench/scene_parser.py). Set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:  # on ZeroGPU Spaces `spaces` must be imported before anything touches CUDA
    import spaces
except ImportError:  # pragma: no cover - spaces is in requirements.txt, but the app runs without it
    spaces = None

import argparse
import contextlib
import functools
import inspect

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

import cinegan_core as core
from cinegan_core import framing, service
from cinegan_core.regions import in_group, shares
from cinegan_core.settings import API_FIELDS, AUTO, FIELD, FORMAT_CHOICES, FORMAT_FIELDS, PAINTED_CHOICES, from_api

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
EXAMPLES = [os.path.join(EXAMPLES_DIR, f) for f in ("sunset-skyline.jpg", "sea-overcast.jpg",
                                                      "mountain-clouds.jpg", "storm-clouds.jpg")]
RENDER_SIDE = int(os.environ.get("CINEGAN_MAX_SIDE", 1024))       # px, longest side of an "Original" render
CHANNEL_SIDE = int(os.environ.get("CINEGAN_CHANNEL_SIDE", 1920))  # px, at most, for the channel formats
EDITOR_SIDE = 1024                                                 # px, longest side shown in the mask editor
MAX_UPLOAD = os.environ.get("CINEGAN_MAX_UPLOAD", "40mb")
CONCURRENCY = int(os.environ.get("CINEGAN_CONCURRENCY", 1))       # renders at once (CPU: 1 uses every core)
QUEUE_SIZE = int(os.environ.get("CINEGAN_QUEUE_SIZE", 32))        # requests waiting; more are told to retry
ON_ZERO_GPU = bool(os.environ.get("SPACES_ZERO_GPU"))              # the render then runs in a worker process

# the page's controls, in the order the handlers take them: the API's arguments after the arrows
CONTROLS = [f.name for f in API_FIELDS if f.control]
# the size controls beside the File choice: each shown only for the formats it is about
SIZE_CONTROLS = list(dict.fromkeys(name for names in FORMAT_FIELDS.values() for name in names))
FORMAT_WORDS = {value: words for words, value in FORMAT_CHOICES}
TINT = {"sky": (64, 156, 255, 120), "water": (0, 220, 170, 120)}  # overlay colours of the automatic mask
MOVE_COLOUR, FREEZE_COLOUR = "#ff4fd8", "#111111"                 # brush colours: paint motion / freeze
NOTHING_FOUND, LITTLE_FOUND = 0.005, 0.05                          # moving share under which the upload warns
RENDERER = {"pixel": "standard renderer", "stylegan": "StyleGAN renderer"}

cache = service.shared_cache()                                     # $CINEGAN_CACHE, at most $CINEGAN_CACHE_GB
DEVICE = service.serving_device(ON_ZERO_GPU)
STYLEGAN = service.preload_engine(DEVICE) is not None              # on Spaces: loaded outside the GPU function


def gpu(fn):
    """@spaces.GPU on Spaces (a no-op elsewhere); plain function without the package."""
    return spaces.GPU(duration=120)(fn) if spaces is not None else fn


def user_error(fn):
    """Show the core's CineGANError as a gr.Error (a message, never a traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except core.CineGANError as e:
            raise gr.Error(str(e), print_exception=False) from None
    return wrapper


@contextlib.contextmanager
def named_as_uploaded(path):
    """Errors name an uploaded file as the user knows it, not by its upload path."""
    try:
        yield
    except core.CineGANError as e:
        raise core.CineGANError(str(e).replace(repr(str(path)), repr(os.path.basename(str(path))))) from None


def load(path) -> core.Photo:
    """The whole photo at the editor's size."""
    if not path:
        raise core.CineGANError("upload a photo first")
    with named_as_uploaded(path):
        return core.load_photo(path, max_side=RENDER_SIDE)


# --- what was found, in plain words ---------------------------------------------------------

def upload_note(labels: np.ndarray, notes: list[str] | None = None) -> str:
    """The note shown right after an upload (markdown): how much will move, and what
    to do when little or nothing was found.

    labels: (h, w) uint8 scene classes (``regions`` codes) of the automatic mask.
    notes:  plain-words remarks of the automatic mask (e.g. low confidence), shown as they are.
    """
    sky, water = shares(labels).values()
    share = sky + water
    found = ", ".join(f"{name} {v:.0%}" for name, v in (("sky", sky), ("water", water)) if v >= 0.005)
    if share < NOTHING_FOUND:
        text = ("⚠️ **Nothing found that should move (0% of the photo).** Paint what should move "
                "(clouds, water) with the pink brush, then press Generate.")
    elif share < LITTLE_FOUND:
        text = (f"⚠️ **Only a little was found to move: {share:.0%} of the photo** ({found}). "
                "Check the tint and paint more with the pink brush if something is missing.")
    else:
        text = f"Moving: **{share:.0%}** of the photo ({found}). Paint to change it."
    # one paragraph, so that the note stays on the first screen under the editor
    return " ".join([text] + [f"Note: {n}." for n in notes or []])


def painted_note(mask: np.ndarray) -> str:
    return f"Moving: **{mask.mean():.0%}** of the photo (with your painting)."


# --- mask editor ----------------------------------------------------------------------------

def tinted(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the photo with sky and water tinted (the automatic mask)."""
    out = rgb.astype(np.float32)
    for group, (r, g, b, a) in TINT.items():
        sel = in_group(labels, group)
        out[sel] = out[sel] * (1 - a / 255) + np.array([r, g, b]) * (a / 255)
    return out.astype(np.uint8)


def editor_mask(value, base: np.ndarray | None) -> np.ndarray | None:
    """The moving area over the whole photo: the automatic mask `base` ((h, w) labels
    or bool), plus what the user painted in the editor's layers, read from their alpha
    (never from the composite): an opaque pixel moves, unless painted with the freeze
    colour. Returns (h, w) bool, or None when nothing was painted (the automatic mask
    is then used at full resolution)."""
    mask = None if base is None else np.asarray(base) > 0
    touched = False
    if not value:
        return None
    freeze = np.array([int(FREEZE_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    for layer in value.get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim != 3 or layer.shape[2] != 4:
            continue
        if mask is None:
            mask = np.zeros(layer.shape[:2], bool)
        if layer.shape[:2] != mask.shape:
            layer = np.asarray(Image.fromarray(layer).resize(mask.shape[::-1], Image.NEAREST))
        painted = layer[..., 3] > 127
        frozen = painted & (np.abs(layer[..., :3].astype(int) - freeze).max(-1) < 48)
        mask = (mask | painted) & ~frozen
        touched |= bool(painted.any())
    return mask if touched else None


def preview_size(photo: core.Photo, side: int = EDITOR_SIDE) -> tuple[int, int]:
    w, h = photo.size
    s = min(1.0, side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def draw_arrows(rgb: np.ndarray, arrows: list, scale: float) -> np.ndarray:
    """The photo with arrows drawn (arrows in photo px, scale = preview / photo)."""
    img = Image.fromarray(rgb).convert("RGB")
    d = ImageDraw.Draw(img)
    width = max(2, img.width // 200)
    for x0, y0, x1, y1 in arrows:
        a, b = np.array([x0, y0]) * scale, np.array([x1, y1]) * scale
        d.line([tuple(a), tuple(b)], fill=(255, 230, 0), width=width)
        v = b - a
        n = np.hypot(*v) or 1.0
        u, p = v / n, np.array([-v[1], v[0]]) / n
        head = 4 * width
        d.polygon([tuple(b), tuple(b - head * u + 0.6 * head * p), tuple(b - head * u - 0.6 * head * p)],
                  fill=(255, 230, 0))
        d.ellipse([a[0] - width, a[1] - width, a[0] + width, a[1] + width], fill=(255, 230, 0))
    return np.asarray(img)


def crop_view(preview: dict | None, aspect: str, x: float, y: float) -> np.ndarray | None:
    """The photo with what falls outside the crop box dimmed and the box outlined."""
    if preview is None:
        return None
    small = preview["image"]
    x0, y0, x1, y1 = (v / preview["to_photo"] for v in framing.crop_box(preview["size"], aspect, x, y))
    out = (small.astype(np.float32) * 0.3).astype(np.uint8)
    r0, r1, c0, c1 = round(y0), round(y1), round(x0), round(x1)
    out[r0:r1, c0:c1] = small[r0:r1, c0:c1]
    img = Image.fromarray(out)
    ImageDraw.Draw(img).rectangle([c0, r0, c1 - 1, r1 - 1], outline=(255, 255, 255), width=max(2, img.width // 160))
    return np.asarray(img)


def crop_axes(preview: dict | None, aspect: str) -> tuple[bool, bool]:
    """Which crop sliders mean something: (horizontal, vertical)."""
    if aspect == "original":
        return False, False
    if preview is None:
        return True, True
    x0, y0, x1, y1 = framing.crop_box(preview["size"], aspect)
    w, h = preview["size"]
    return x1 - x0 < w, y1 - y0 < h


@user_error
def on_photo(path, aspect, crop_x, crop_y, mask_reach=None):
    """A new photo (or another reach of the automatic mask): compute the automatic mask, show it
    in the editor (the strokes start over), say what was found."""
    if not path:
        return (gr.update(value=None, visible=False), gr.update(visible=False), "", None, [], None, None, None,
                None)
    photo = load(path)
    found = core.pipeline.auto_mask_cached(photo, cache, mask_reach or FIELD["mask_reach"].start)
    labels = found.labels
    size = preview_size(photo)
    small = np.asarray(Image.fromarray(photo.rgb).resize(size, Image.LANCZOS))
    small_labels = np.asarray(Image.fromarray(labels).resize(size, Image.NEAREST))
    # the automatic mask is shown tinted into the background; the user's strokes go to the
    # editor's layer (pink adds, dark freezes, the eraser undoes strokes)
    value = {"background": tinted(small, small_labels), "layers": [], "composite": None}
    preview = {"image": small, "to_photo": photo.original_size[0] / size[0], "size": photo.original_size}
    note = upload_note(small_labels, [n for n in found.notes if not n.startswith("found no sky or water")])
    if (small_labels > 0).mean() < NOTHING_FOUND:
        gr.Warning("Nothing found that should move: paint what should move with the pink brush.", duration=8)
    return (gr.update(value=value, visible=True), gr.update(visible=True), note, small, [], None, small_labels,
            preview, crop_view(preview, aspect, crop_x, crop_y))


def shown_with_photo(path):
    """Controls of the mask editor (what painted areas move as, the automatic mask's reach): shown
    once there is a photo."""
    return gr.update(visible=bool(path)), gr.update(visible=bool(path))


def on_edit(value, base):
    if base is None:
        return ""
    painted = editor_mask(value, base)
    return upload_note(base) if painted is None else painted_note(painted)


def on_format(preview, aspect, crop_x, crop_y):
    """A format chosen: show the crop box and the sliders that can move it."""
    horizontal, vertical = crop_axes(preview, aspect)
    return (gr.update(visible=aspect != "original"), crop_view(preview, aspect, crop_x, crop_y),
            gr.update(visible=horizontal), gr.update(visible=vertical))


def on_file_type(fmt):
    """The size limits (and the email width) of the chosen file type, and only those (SIZE_CONTROLS)."""
    return tuple(gr.update(visible=name in FORMAT_FIELDS.get(fmt, ())) for name in SIZE_CONTROLS)


@user_error
def on_click(preview, arrows, pending, evt: gr.SelectData):
    """Clicks on the preview: first the start of an arrow, then its end."""
    if preview is None:
        raise core.CineGANError("upload a photo first")
    small, to_photo = preview["image"], preview["to_photo"]
    x, y = evt.index[0] * to_photo, evt.index[1] * to_photo
    if pending is None:
        shown = draw_arrows(small, arrows, 1 / to_photo)
        ImageDraw.Draw(img := Image.fromarray(shown)).ellipse([evt.index[0] - 5, evt.index[1] - 5,
                                                                 evt.index[0] + 5, evt.index[1] + 5],
                                                                fill=(255, 230, 0))
        return np.asarray(img), arrows, (x, y), "Now click where that content should go."
    arrows = arrows + [(round(pending[0], 1), round(pending[1], 1), round(x, 1), round(y, 1))]
    return draw_arrows(small, arrows, 1 / to_photo), arrows, None, f"{len(arrows)} arrow(s)."


def on_clear(preview):
    return None if preview is None else preview["image"], [], None, "No arrows."


# --- rendering ------------------------------------------------------------------------------

def page_settings(values: dict) -> core.RenderSettings:
    """The page's controls (or the API's arguments), by their flat names, as RenderSettings
    (``settings.from_api``), rendered at RENDER_SIDE, or a channel's size up to CHANNEL_SIDE."""
    return from_api(values, max_side=RENDER_SIDE, channel_side=CHANNEL_SIDE)


def controls(arrows, values) -> dict:
    """The page's controls as flat names: the arrows drawn, then the CONTROLS' values."""
    return dict(zip(CONTROLS, values), arrows=list(arrows or []))


@gpu
def render_files(photo_path: str, mask, settings: dict, progress_cb=None) -> tuple[str, str, dict, str]:
    """Render (or fetch from the cache) one loop. Returns (preview mp4/webm path,
    download path in the chosen format, info (with the embed code), poster path), the
    files named after this upload. Only paths and plain data cross this boundary (it may
    run in a ZeroGPU worker).
    mask: None, a mask file's path, or an (h, w) bool array over the whole photo."""
    with named_as_uploaded(photo_path):
        out = service.render_cached(photo_path, core.RenderSettings.from_dict(settings), cache=cache, mask=mask,
                                    name=os.path.basename(photo_path), device=DEVICE, progress=progress_cb)
    return out.preview, out.video, out.info, out.poster


@gpu
def variant_files(photo_path: str, mask, settings: dict, progress_cb=None) -> tuple[list, str]:
    """The A/B variants of one photo (``service.variants``): (gallery items, zip path)."""
    with named_as_uploaded(photo_path):
        out = service.variants(photo_path, core.RenderSettings.from_dict(settings), cache=cache, mask=mask,
                               name=os.path.basename(photo_path), device=DEVICE, progress=progress_cb)
    return out.items, out.zip


PAINTED_WORDS = {value: words.lower() for words, value in PAINTED_CHOICES}


def painted_lines(info: dict) -> list[str]:
    """What each painted region became (info["painted"]), in plain words, with how to change it."""
    regions = info.get("painted") or []
    out = []
    for p in regions:
        which = "The painted area" if len(regions) == 1 else f"Painted area {p['region']}"
        words = PAINTED_WORDS.get(p["as"], p["as"])
        change = f"change it under \"{FIELD['painted'].label}\""
        if p.get("by") == "automatic mask":
            out.append(f"{which} ({p['share']:.0%} of the photo) moves as the automatic mask found it (mostly "
                       f"**{words}**; {change}).")
            continue
        how = "recognised from the photo" if p.get("auto") else "as you chose"
        out.append(f"{which} ({p['share']:.0%} of the photo) moves as **{words}** ({how}; {change}).")
    return out


def user_notes(info: dict) -> list[str]:
    """What the visitor should know about a render: what each painted region moves as,
    and the core's warnings (a loop smaller than the channel's size, ignored arrows,
    parts the automatic mask left still); its other notes are for the command line's report."""
    return painted_lines(info) + [w[len("format: "):] if w.startswith("format: ") else w
                                  for w in info.get("warnings", [])]


def status_line(info: dict) -> str:
    """What was made, in plain words: the file's real size, length and weight."""
    out = info.get("output") or {}
    w, h = out.get("width", info["width"]), out.get("height", info["height"])
    fps = out.get("fps", info["fps"])
    secs = out.get("frames", info["frames"]) / fps
    what = f"{secs:.3g} s loop, {w}x{h}, {fps:g} fps, {FORMAT_WORDS.get(info.get('format'), '')}"
    if out.get("bytes"):
        what += f", {out['bytes'] / 1e6:.1f} MB"
    limit = core.RenderSettings.from_dict(info["settings"]).budget_bytes()
    if limit is not None:
        made = f"quality {out.get('quality')}" if info["format"] == "webp" else f"{out.get('colors', 256)} colours"
        what += f" (limit {limit / 1e6:g} MB, {made})"
    renderer = RENDERER.get(info.get("engine"), "renderer")
    head = (f"Ready (made earlier, {info['seconds']:.1f} s)" if info.get("cached")
            else f"Ready in {info['seconds']:.1f} s with the {renderer}")
    notes = user_notes(info)
    return f"**{head}:** {what}." + "".join(f"\n\nNote: {n}" for n in notes)


def progress_bridge(progress: gr.Progress):
    if ON_ZERO_GPU:  # a callback into this process cannot cross into the GPU worker
        return None
    words = {"prepare": "preparing", "render": "making the loop", "batch": "variants"}

    def cb(event: dict):
        progress((event["step"], event["total"]), desc=words.get(event["stage"], event["stage"]),
                 unit="variants" if event["stage"] == "batch" else "frames")
    return cb


def page_mask(editor, base):
    """The mask to render with (None: automatic), or a plain error when nothing would move."""
    mask = editor_mask(editor, base)
    if mask is None and base is not None and not np.asarray(base).any():
        raise core.CineGANError("Nothing was found that should move: paint what should move with the pink "
                                "brush, then press Generate.")
    if mask is not None and not mask.any():
        raise core.CineGANError("Everything is painted still: paint what should move with the pink brush.")
    return mask


@user_error
def on_generate(path, editor, base, arrows, *values, progress=gr.Progress()):
    """Generate: the page's controls (CONTROLS, in order) -> the playing loop, the download,
    the status, the embed code and the poster."""
    if not path:
        raise core.CineGANError("Upload a photo first (or click an example).")
    settings = page_settings(controls(arrows, values))
    preview, download, info, poster = render_files(path, page_mask(editor, base), settings.to_dict(),
                                                   progress_bridge(progress))
    return preview, download, status_line(info), info["snippet"], poster


@user_error
def on_variants(path, editor, base, arrows, *values, progress=gr.Progress()):
    """A/B variants: the fixed presets (calm / natural / lively scale every speed and
    arrow), as animated thumbnails, plus a zip named after the photo with every variant as
    MP4, WebM, WebP, GIF (and the chosen file), its poster and embed code, index.html (the
    page that plays them side by side) and the batch's manifest.json (``service.variants``)."""
    if not path:
        raise core.CineGANError("Upload a photo first (or click an example).")
    settings = page_settings(controls(arrows, values))
    return variant_files(path, page_mask(editor, base), settings.to_dict(), progress_bridge(progress))


API_OUTPUTS = {"video": "the loop, in the chosen format, named after the photo",
               "info": "the render: engine, frames, fps, width, height, output (the file's own width, height, "
                       "fps, frames, bytes), quality (seam_ratio, frozen_exact, moving_share), settings, notes, warnings, "
                       "file_name, key, cached (true when it came from the cache), seconds, snippet (the embed code), "
                       "poster (file_name, width, height, bytes, url: where this server serves it)"}
API_INPUTS = {"photo": "the photo (any size; sky and water are found automatically).",
              "mask": "optional mask image over the whole photo, white = moves.",
              **{f.name: f.help for f in API_FIELDS}}


def api_generate(photo, mask=None, *values):
    try:
        path = photo["path"] if isinstance(photo, dict) else photo.path
        mpath = None if mask is None else mask["path"] if isinstance(mask, dict) else mask.path
        settings = page_settings(dict(zip([f.name for f in API_FIELDS], values)))
        _, download, info, poster = render_files(path, mpath, settings.to_dict())
        # the poster, where this server serves it (a path under its root URL)
        info = dict(info, poster=dict(info["poster"], url=f"/gradio_api/file={poster}"))
    except core.CineGANError as e:
        raise gr.Error(str(e), print_exception=False) from None
    return gr.FileData(path=download), info


# the endpoint's arguments, defaults and descriptions are the settings table's (``settings.API_FIELDS``)
_P = inspect.Parameter
api_generate.__signature__ = inspect.Signature(
    [_P("photo", _P.POSITIONAL_OR_KEYWORD, annotation=gr.FileData),
     _P("mask", _P.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.FileData | None)]
    + [_P(f.name, _P.POSITIONAL_OR_KEYWORD, default=f.start, annotation=f.type | str if f.start == AUTO and f.type
          is not str else f.type) for f in API_FIELDS],
    return_annotation=tuple[gr.FileData, dict])
api_generate.__annotations__ = {p.name: p.annotation for p in api_generate.__signature__.parameters.values()}
api_generate.__annotations__["return"] = tuple[gr.FileData, dict]
api_generate.__doc__ = ("Render a cinemagraph from a landscape photo.\n\nParameters:\n"
                        + "".join(f"    {name}: {text}\n" for name, text in API_INPUTS.items())
                        + "Returns:\n    video and info (see the outputs).\n")


def name_api_fields(demo: gr.Blocks, api_name: str, inputs: dict[str, str], outputs: dict[str, str]) -> None:
    """Give a gr.api endpoint's inputs their parameter names and descriptions, and its outputs
    names and descriptions, in the API page (gr.api itself labels them "1st", "2nd", ...)."""
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)
    for comp, name in zip(fn.inputs, inspect.signature(fn.fn).parameters):
        comp.label = name
        comp._api_info = dict(comp._api_info, additional_description=inputs.get(name, ""))
    for comp, (name, text) in zip(fn.outputs, outputs.items()):
        comp.label = name
        comp._api_info = dict(comp._api_info, description=text)


@user_error
def example_render(path):
    """What an example shows before anyone touches a control (cached lazily): the
    playing loop, the file to download and the status line."""
    preview, download, info, _ = render_files(path, None, page_settings({}).to_dict())
    return preview, download, status_line(info)


def control(name: str, **extra):
    """The page's control of a setting, as the settings table describes it (``settings.FIELDS``)."""
    f = FIELD[name]
    kw = dict(value=f.start, label=f.label, **extra)
    if f.info:
        kw["info"] = f.info
    if f.control == "slider":
        return gr.Slider(f.lo, f.hi, step=f.step, **kw)
    if f.control == "number":
        if f.start == AUTO:  # an empty box: automatic
            kw.update(value=None, placeholder="Auto")
        return gr.Number(minimum=f.lo, maximum=f.hi, step=f.step, precision=0 if f.type is int else None, **kw)
    if f.control == "radio":
        return gr.Radio(list(f.choices), **kw)
    return gr.Dropdown(list(f.choices), **kw)


# --- page -----------------------------------------------------------------------------------

CSS = """
#title h1 {margin: 0 0 2px 0; font-size: 1.6rem}
#title p {margin: 0}
#editor-help p {margin: 0}
#upload-note p {margin: 2px 0}
#status p {margin: 2px 0}
#status:empty {display: none}
#crop-hint p {margin: 0 8px; font-size: 0.85rem}
#generate {min-height: 48px; font-size: 1.1rem}
footer {display: none !important}
"""


def build(queue_size: int = QUEUE_SIZE) -> gr.Blocks:
    with gr.Blocks(title="CineGAN: photo to cinemagraph") as demo:
        gr.Markdown("# CineGAN\nDrop in a landscape photo: the sky and water move in a seamless loop, "
                    "everything else stays still.", elem_id="title")
        arrows = gr.State([])      # [(x0, y0, x1, y1)] in photo px
        pending = gr.State(None)   # the start point of an arrow being drawn
        base = gr.State(None)      # the automatic mask at editor size, (h, w) uint8 regions
        preview = gr.State(None)   # {"image": editor-size photo, "to_photo": px scale back, "size": photo's size}
        # made here, placed in the right column below: the examples (left) fill them too
        result = gr.Video(label="Result", elem_id="result", autoplay=True, loop=True, buttons=["download"],
                          interactive=False, height=400, render=False)
        status = gr.Markdown(elem_id="status", render=False)
        download = gr.File(label="Download", elem_id="download", height=60, render=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=420):
                photo = gr.Image(type="filepath", label="1. Your photo", elem_id="photo", height=150,
                                 sources=["upload", "clipboard"], buttons=[],
                                 placeholder="# Drop a landscape photo here\nor click to choose one, "
                                             "or pick an example below")
                editor_help = gr.Markdown(
                    "**2. What moves:** tinted **blue** = sky, **green** = water. Paint with the **pink** brush "
                    "to add, the **dark** brush to keep still; the eraser undoes strokes.",
                    elem_id="editor-help", visible=False)
                editor = gr.ImageEditor(label="What moves", show_label=False, elem_id="mask-editor", type="numpy",
                                        image_mode="RGBA", layers=False, sources=[], transforms=[], height=420,
                                        placeholder="Upload a photo first", visible=False,
                                        brush=gr.Brush(colors=[MOVE_COLOUR, FREEZE_COLOUR], default_size=24,
                                                       color_mode="fixed"),
                                        eraser=gr.Eraser(default_size=24))
                note = gr.Markdown("", elem_id="upload-note")   # right under the editor: on the first screen
                painted = control("painted", elem_id="painted", visible=False)
                mask_reach = control("mask_reach", elem_id="mask-reach", visible=False)
                # clicking an example fills the photo (and so the mask) and shows its loop, file and status
                gr.Examples(EXAMPLES, inputs=[photo], outputs=[result, download, status], fn=example_render,
                            cache_examples=True, cache_mode="lazy", examples_per_page=4, elem_id="examples",
                            label="Examples (photos: see examples/LICENSES.md)")
            with gr.Column(scale=1, min_width=420):
                with gr.Group():
                    aspect = control("aspect", elem_id="aspect")
                    with gr.Row(visible=False, elem_id="crop-row") as crop_row:
                        crop_img = gr.Image(label="Crop", elem_id="crop-view", interactive=False, height=96,
                                            show_label=False, buttons=[], scale=1, min_width=120)
                        with gr.Column(scale=3):
                            crop_x = control("crop_x", elem_id="crop-x")
                            crop_y = control("crop_y", elem_id="crop-y")
                            gr.Markdown("The bright box is what the post keeps.", elem_id="crop-hint")
                    with gr.Row():
                        fmt = control("format", elem_id="file-type", scale=2)
                        sizes = {name: control(name, elem_id=name.replace("_max", "").replace("_", "-"),
                                               visible=name in FORMAT_FIELDS.get(FIELD["format"].start, ()), scale=1)
                                 for name in SIZE_CONTROLS}
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                status.render()
                result.render()
                download.render()
                with gr.Accordion("Embed on a web page: code and poster", open=False, elem_id="embed"):
                    gr.Markdown("Paste this where the loop should play; put the files it names beside the page "
                                "(make the WebM, MP4 and WebP under **File**, or take all of them from the A/B zip). "
                                "It plays muted, looping and inline on phones; the poster shows until it plays.",
                                elem_id="embed-help")
                    snippet_box = gr.Code(language="html", label="Embed code", elem_id="snippet", lines=6,
                                          interactive=False, buttons=["copy"])
                    poster_file = gr.File(label="Poster (JPEG)", elem_id="poster", height=60)
                with gr.Accordion("Motion: direction, speed, arrows", open=False):
                    with gr.Row():
                        sky_dir = control("sky_direction")
                        sky_speed = control("sky_speed")
                    with gr.Row():
                        water_dir = control("water_direction")
                        water_speed = control("water_speed")
                    with gr.Row():
                        sky_style = control("sky_style", elem_id="sky-style")
                        water_style = control("water_style", elem_id="water-style")
                    arrow_view = gr.Image(label="Arrows: click where something starts, then where it should go "
                                                "in one loop", elem_id="arrows", interactive=False, height=260)
                    with gr.Row():
                        arrow_info = gr.Markdown("No arrows.")
                        clear = gr.Button("Clear arrows", size="sm")
                with gr.Accordion("Loop: length and smoothness", open=False):
                    with gr.Row():
                        seconds = control("seconds")
                        fps = control("fps")
                    engine = control("engine", visible=STYLEGAN, elem_id="engine")
                with gr.Accordion("A/B variants: calm, natural, lively", open=False):
                    variants_btn = gr.Button("Make three variants", elem_id="variants")
                    gallery = gr.Gallery(label="Variants (animated previews)", columns=3, height=220,
                                         elem_id="gallery", object_fit="contain")
                    bundle = gr.File(label="All variants (zip: MP4, WebM, WebP, GIF, poster and embed code of "
                                           "each; index.html plays them side by side)", elem_id="bundle")

        crop_outputs = [crop_row, crop_img, crop_x, crop_y]
        mask_inputs = [photo, aspect, crop_x, crop_y, mask_reach]
        mask_outputs = [editor, editor_help, note, arrow_view, arrows, pending, base, preview, crop_img]
        photo.change(on_photo, mask_inputs, mask_outputs, api_visibility="private").then(
            on_format, [preview, aspect, crop_x, crop_y], crop_outputs, show_progress="hidden",
            api_visibility="private")
        # another reach redraws the mask only: the framing stays, so no chained step (once in ~16 CI runs
        # a reach changed back right after did not redraw, possibly behind such a step still pending)
        mask_reach.change(on_photo, mask_inputs, mask_outputs, api_visibility="private")
        photo.change(shown_with_photo, [photo], [painted, mask_reach], show_progress="hidden",
                     api_visibility="private")
        # `input`, not `change`: Gradio 6.31's editor reports a first stroke to `change` only with the next one
        editor.input(on_edit, [editor, base], [note], show_progress="hidden", api_visibility="private")
        for moved in (aspect, crop_x, crop_y):
            moved.change(on_format, [preview, aspect, crop_x, crop_y], crop_outputs, show_progress="hidden",
                           api_visibility="private")
        fmt.change(on_file_type, [fmt], [sizes[name] for name in SIZE_CONTROLS], show_progress="hidden",
                   api_visibility="private")
        arrow_view.select(on_click, [preview, arrows, pending], [arrow_view, arrows, pending, arrow_info],
                          api_visibility="private")
        clear.click(on_clear, [preview], [arrow_view, arrows, pending, arrow_info], api_visibility="private")
        widgets = {"sky_direction": sky_dir, "sky_speed": sky_speed, "water_direction": water_dir,
                   "water_speed": water_speed, "seconds": seconds, "fps": fps, "format": fmt, "engine": engine,
                   "aspect": aspect, "crop_x": crop_x, "crop_y": crop_y, "sky_style": sky_style,
                   "water_style": water_style, "painted": painted, "mask_reach": mask_reach, **sizes}
        inputs = [photo, editor, base, arrows] + [widgets[name] for name in CONTROLS]
        generate.click(on_generate, inputs, [result, download, status, snippet_box, poster_file],
                       api_visibility="private")
        variants_btn.click(on_variants, inputs, [gallery, bundle], api_visibility="private")
        gr.api(api_generate, api_name="generate")
        name_api_fields(demo, "generate", API_INPUTS, API_OUTPUTS)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=queue_size)
    return demo


demo = build()


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description="CineGAN web app")
    p.add_argument("--port", type=int, default=None,
                   help="port to serve on (default: $GRADIO_SERVER_PORT, else 7860)")
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="address to listen on (0.0.0.0: every network interface; default 127.0.0.1)")
    args = p.parse_args(argv)
    demo.launch(max_file_size=MAX_UPLOAD, allowed_paths=[cache.root], server_name=args.host, server_port=args.port,
                css=CSS)


if __name__ == "__main__":
    main()
