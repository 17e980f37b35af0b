"""CineGAN web app: photo in, seamless cinemagraph out.

Thin on purpose: widgets call ``cinegan_core``; everything that can be tested
without a browser lives there. Runs locally on CPU (``python app.py``) and on
Hugging Face Spaces (ZeroGPU included) unchanged.
"""
try:  # on ZeroGPU Spaces `spaces` must be imported before anything touches CUDA
    import spaces
except ImportError:  # pragma: no cover - spaces is in requirements.txt, but the app runs without it
    spaces = None

import functools
import json
import os
import zipfile

import gradio as gr
import numpy as np
from PIL import Image, ImageDraw

import cinegan_core as core
from cinegan_core.cache import Cache, make_key
from cinegan_core.service import download_link, photo_stem, render_cached
from cinegan_core.mask import SKY, WATER
from cinegan_core.motion import DEFAULT_DRIFT

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")
EXAMPLES = [os.path.join(EXAMPLES_DIR, f) for f in ("sunset-skyline.jpg", "sea-overcast.jpg",
                                                      "mountain-clouds.jpg", "storm-clouds.jpg")]
RENDER_SIDE = int(os.environ.get("CINEGAN_MAX_SIDE", 1024))      # px, longest side rendered by the app
EDITOR_SIDE = 1024                                                # px, longest side shown in the mask editor
MAX_UPLOAD = os.environ.get("CINEGAN_MAX_UPLOAD", "40mb")
CONCURRENCY = int(os.environ.get("CINEGAN_CONCURRENCY", 1))      # renders at once (CPU: 1 uses every core)
FORMATS = {"MP4": "mp4", "WebM": "webm", "GIF": "gif"}
TINT = {SKY: (64, 156, 255, 120), WATER: (0, 220, 170, 120)}    # overlay colours of the automatic mask
MOVE_COLOUR, FREEZE_COLOUR = "#ff4fd8", "#111111"                # brush colours: paint motion / freeze

cache = Cache(os.environ.get("CINEGAN_CACHE"), max_bytes=int(float(os.environ.get("CINEGAN_CACHE_GB", 2)) * 1024 ** 3))


def gpu(fn):
    """@spaces.GPU on Spaces (a no-op elsewhere); plain function without the package."""
    return spaces.GPU(duration=120)(fn) if spaces is not None else fn


def device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def user_error(fn):
    """Show the core's CineGANError as a gr.Error (a message, never a traceback)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except core.CineGANError as e:
            raise gr.Error(str(e), print_exception=False) from None
    return wrapper


def load(path) -> core.Photo:
    if not path:
        raise core.CineGANError("upload a photo first")
    try:
        return core.load_photo(path, max_side=RENDER_SIDE)
    except core.CineGANError as e:  # name the file as the user knows it, not by its upload path
        raise core.CineGANError(str(e).replace(repr(str(path)), repr(os.path.basename(str(path))))) from None


# --- mask editor --------------------------------------------------------------------

def tinted(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the photo with sky and water tinted (the automatic mask)."""
    out = rgb.astype(np.float32)
    for k, (r, g, b, a) in TINT.items():
        sel = labels == k
        out[sel] = out[sel] * (1 - a / 255) + np.array([r, g, b]) * (a / 255)
    return out.astype(np.uint8)


def editor_mask(value, base: np.ndarray | None) -> np.ndarray | None:
    """The moving area: the automatic mask `base` (H, W) bool, plus what the user
    painted in the editor's layers, read from their alpha (never from the
    composite): an opaque pixel moves, unless painted with the freeze colour.
    Returns (H, W) bool, or None when nothing was painted (the automatic mask
    is then used at full resolution)."""
    mask = None if base is None else base.copy()
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


def coverage_text(mask: np.ndarray | None) -> str:
    if mask is None:
        return "Moving area: none yet"
    return f"Moving area: **{mask.mean():.0%}** of the photo"


@user_error
def on_photo(path):
    """A new photo: compute the automatic mask and show it in the editor."""
    if not path:
        return None, None, [], None, coverage_text(None), None, None
    photo = load(path)
    labels = core.pipeline.auto_labels_cached(photo, cache)
    size = preview_size(photo)
    small = np.asarray(Image.fromarray(photo.rgb).resize(size, Image.LANCZOS))
    small_labels = np.asarray(Image.fromarray(labels).resize(size, Image.NEAREST))
    # the automatic mask is shown tinted into the background; the user's strokes go to the
    # editor's layer (pink adds, dark freezes, the eraser undoes strokes)
    value = {"background": tinted(small, small_labels), "layers": [], "composite": None}
    preview = {"image": small, "to_photo": photo.original_size[0] / size[0]}  # arrows need no new decode
    return value, small, [], None, coverage_text(small_labels > 0), small_labels > 0, preview


def on_edit(value, base):
    painted = editor_mask(value, base)
    return coverage_text(base if painted is None else painted)


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


# --- rendering -----------------------------------------------------------------------

def control_settings(sky_direction, sky_speed, water_direction, water_speed, seconds, fps, fmt, engine,
                     arrows=()) -> core.RenderSettings:
    """The page's controls as RenderSettings (speeds in px per frame per 1024 px of the
    long side; rendered at RENDER_SIDE)."""
    return core.RenderSettings.from_dict({
        "sky": [sky_direction, sky_speed], "water": [water_direction, water_speed], "seconds": seconds,
        "fps": fps, "format": FORMATS.get(fmt, str(fmt).lower()), "engine": engine, "arrows": list(arrows),
        "max_side": RENDER_SIDE})


@gpu
def render_files(photo_path: str, mask: np.ndarray | None, settings: dict,
                 progress_cb=None) -> tuple[str, str, dict]:
    """Render (or fetch from the cache) one loop. Returns (preview mp4/webm path,
    download path in the chosen format, named after the photo, info). Only paths and
    plain data cross this boundary (it may run in a ZeroGPU worker)."""
    rs = core.RenderSettings.from_dict(settings)
    photo = load(photo_path)
    out = render_cached(photo, rs, cache=cache, mask=mask, name=os.path.basename(photo_path), device=device(),
                        progress=progress_cb)
    download = download_link(cache, out)
    return out.preview, download, out.info


def status_line(info: dict) -> str:
    out = info.get("output") or {}
    size = f"{out.get('width', info['width'])}x{out.get('height', info['height'])}"
    mb = f", {out['bytes'] / 1e6:.1f} MB" if out.get("bytes") else ""
    what = (f"{info['frames']} frames at {info['fps']:g} fps, {size} {info.get('format', '').upper()}{mb}")
    if info.get("cached"):
        return f"From the cache in {info['seconds']:.2f} s: {what}."
    notes = "; ".join(n for n in info.get("notes", []) if "ignored" in n)
    return (f"Rendered with the **{info.get('engine_message', info.get('engine'))}** in {info['seconds']:.1f} s: "
            f"{what}." + (f" Note: {notes}" if notes else ""))


ON_ZERO_GPU = bool(os.environ.get("SPACES_ZERO_GPU"))  # the render then runs in a worker process


def progress_bridge(progress: gr.Progress):
    if ON_ZERO_GPU:  # a callback into this process cannot cross into the GPU worker
        return None

    def cb(event: dict):
        progress((event["step"], event["total"]), desc=f"{event['stage']}", unit="frames")
    return cb


@user_error
def on_generate(path, editor, base, arrows, sky_direction, sky_speed, water_direction, water_speed, seconds, fps, fmt,
                engine, progress=gr.Progress()):
    settings = control_settings(sky_direction, sky_speed, water_direction, water_speed, seconds, fps, fmt, engine,
                                arrows)
    preview, download, info = render_files(path, editor_mask(editor, base), settings.to_dict(),
                                           progress_bridge(progress))
    return preview, download, status_line(info)


@user_error
def on_variants(path, editor, base, arrows, sky_direction, sky_speed, water_direction, water_speed, seconds, fps, fmt,
                engine, progress=gr.Progress()):
    """A/B variants: the fixed presets (calm / natural / lively scale every speed and
    arrow), plus a zip named after the photo with every variant and a manifest."""
    settings = control_settings(sky_direction, sky_speed, water_direction, water_speed, seconds, fps, fmt, engine,
                                arrows)
    mask = editor_mask(editor, base)
    items, manifest = [], []
    for i, name in enumerate(core.PRESETS):
        progress(i / len(core.PRESETS), desc=f"variant {name}")
        preview, download, info = render_files(path, mask, settings.with_preset(name).to_dict())
        label = f"{chr(65 + i)}: {name}"
        items.append((preview, label))
        manifest.append({"variant": chr(65 + i), "preset": name, "file": os.path.basename(download),
                         "settings": info["settings"], "quality": info.get("quality"), "cached": info["cached"],
                         "_path": download})
    stem = photo_stem(path)
    zkey = make_key("variants", [m["_path"] for m in manifest], [m["settings"] for m in manifest])

    def write_zip(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for m in manifest:
                z.write(m["_path"], m["file"])
            z.writestr("manifest.json", json.dumps([{k: v for k, v in m.items() if k != "_path"} for m in manifest],
                                                   indent=2))

    zpath, _ = cache.get_or_create("variants", zkey, ".zip", write_zip)
    return items, cache.link("variants", zkey, ".zip", f"cinegan-{stem}-variants.zip")


def api_generate(photo: gr.FileData, mask: gr.FileData | None = None, arrows: str = "",
                 sky_direction: float = DEFAULT_DRIFT["sky"][0], sky_speed: float = DEFAULT_DRIFT["sky"][1],
                 water_direction: float = DEFAULT_DRIFT["water"][0], water_speed: float = DEFAULT_DRIFT["water"][1],
                 seconds: float = 3.0, fps: float = 20.0, format: str = "mp4",
                 engine: str = "auto") -> tuple[gr.FileData, dict]:
    """Render a cinemagraph from a landscape photo.

    photo: the photo (any size; sky and water are found automatically).
    mask: optional mask image, white = moves.
    arrows: optional 'x0,y0,x1,y1;x0,y0,x1,y1' in photo pixels: content at the start reaches the end in one loop.
    sky_direction / water_direction: degrees, 0 = rightward, 90 = downward.
    sky_speed / water_speed: px per frame per 1024 px of the photo's long side.
    seconds, fps: length of the loop and playback rate.
    format: mp4, webm or gif.
    engine: auto, pixel or stylegan.
    Returns the video file and a dict describing the render (engine, seconds, cached, frames, ...).
    """
    try:
        path = photo["path"] if isinstance(photo, dict) else photo.path
        user_mask = None
        if mask is not None:
            mpath = mask["path"] if isinstance(mask, dict) else mask.path
            user_mask = core.load_mask(mpath, load(path).size)
        settings = control_settings(sky_direction, sky_speed, water_direction, water_speed, seconds, fps,
                                    format, engine, core.settings.parse_arrows(arrows or ""))
        _, download, info = render_files(path, user_mask, settings.to_dict())
    except core.CineGANError as e:
        raise gr.Error(str(e), print_exception=False) from None
    return gr.FileData(path=download), info


@user_error
def example_render(path):
    """What an example shows before anyone touches a control (cached lazily)."""
    settings = control_settings(DEFAULT_DRIFT["sky"][0], DEFAULT_DRIFT["sky"][1], DEFAULT_DRIFT["water"][0],
                                DEFAULT_DRIFT["water"][1], 3.0, 20, "MP4", "auto")
    preview, _, _ = render_files(path, None, settings.to_dict())
    return preview


def weights_note() -> str:
    missing = core.weights.missing()
    if not missing:
        return "stylegan checkpoints found: **auto** uses the stylegan engine."
    return (f"The **stylegan** engine is unavailable here: {', '.join(missing)} not found "
            "(see weights/README.md). **auto** uses the weight-free pixel engine.")


# --- page ----------------------------------------------------------------------------

def build() -> gr.Blocks:
    with gr.Blocks(title="CineGAN: photo to cinemagraph") as demo:
        gr.Markdown("# CineGAN\nDrop in a landscape photo: the sky and water move in a seamless loop, "
                    "everything else stays still.")
        arrows = gr.State([])      # [(x0, y0, x1, y1)] in photo px
        pending = gr.State(None)   # the start point of an arrow being drawn
        base = gr.State(None)      # the automatic mask at editor size, (h, w) bool
        preview = gr.State(None)   # {"image": the photo at editor size, "to_photo": px scale back to the photo}
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(type="filepath", label="1. Photo", elem_id="photo", sources=["upload", "clipboard"],
                                 height=320)
                editor = gr.ImageEditor(label="2. What moves (tinted: blue sky, green water). Paint with the pink "
                                              "brush to add, the dark brush to freeze; the eraser undoes strokes.",
                                        elem_id="mask-editor", type="numpy", image_mode="RGBA", layers=False,
                                        sources=[], transforms=[], height=420,
                                        brush=gr.Brush(colors=[MOVE_COLOUR, FREEZE_COLOUR], default_size=24,
                                                       color_mode="fixed"),
                                        eraser=gr.Eraser(default_size=24))
                coverage = gr.Markdown(coverage_text(None), elem_id="coverage")
            with gr.Column(scale=1):
                with gr.Accordion("3. Motion", open=True):
                    with gr.Row():
                        sky_dir = gr.Slider(0, 359, value=DEFAULT_DRIFT["sky"][0], step=1, label="Sky direction (deg)",
                                            info="0 = right, 90 = down, 180 = left, 270 = up")
                        sky_speed = gr.Slider(0, 4, value=DEFAULT_DRIFT["sky"][1], step=0.1, label="Sky speed",
                                              info="px per frame per 1024 px of photo")
                    with gr.Row():
                        water_dir = gr.Slider(0, 359, value=DEFAULT_DRIFT["water"][0], step=1,
                                              label="Water direction (deg)")
                        water_speed = gr.Slider(0, 4, value=DEFAULT_DRIFT["water"][1], step=0.1, label="Water speed")
                    arrow_view = gr.Image(label="Arrows: click a start point, then an end point (content travels "
                                                "that far in one loop)", elem_id="arrows", interactive=False,
                                          height=260)
                    with gr.Row():
                        arrow_info = gr.Markdown("No arrows.")
                        clear = gr.Button("Clear arrows", size="sm")
                with gr.Accordion("4. Loop", open=True):
                    with gr.Row():
                        seconds = gr.Slider(1, 10, value=3, step=0.5, label="Duration (s)")
                        fps = gr.Slider(10, 30, value=20, step=1, label="Frames per second")
                    with gr.Row():
                        fmt = gr.Radio(list(FORMATS), value="MP4", label="Format")
                        engine = gr.Radio(["auto", "pixel", "stylegan"], value="auto", label="Engine",
                                          info=weights_note() or None)
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
                result = gr.Video(label="Result", elem_id="result", autoplay=True, loop=True, buttons=["download"],
                                  interactive=False)
                download = gr.File(label="Download", elem_id="download")
                status = gr.Markdown(elem_id="status")
                with gr.Accordion("A/B variants", open=False):
                    variants_btn = gr.Button("Render calm / natural / lively", elem_id="variants")
                    gallery = gr.Gallery(label="Variants", columns=3, elem_id="gallery")
                    bundle = gr.File(label="All variants (zip with manifest.json)")
        gr.Examples(EXAMPLES, inputs=[photo], outputs=[result], fn=example_render, cache_examples=True,
                    cache_mode="lazy", label="Examples (photos: see examples/LICENSES.md)")

        photo.change(on_photo, [photo], [editor, arrow_view, arrows, pending, coverage, base, preview], api_visibility="private")
        editor.change(on_edit, [editor, base], [coverage], show_progress="hidden", api_visibility="private")
        arrow_view.select(on_click, [preview, arrows, pending], [arrow_view, arrows, pending, arrow_info], api_visibility="private")
        clear.click(on_clear, [preview], [arrow_view, arrows, pending, arrow_info], api_visibility="private")
        inputs = [photo, editor, base, arrows, sky_dir, sky_speed, water_dir, water_speed, seconds, fps, fmt, engine]
        generate.click(on_generate, inputs, [result, download, status], api_visibility="private")
        variants_btn.click(on_variants, inputs, [gallery, bundle], api_visibility="private")
        gr.api(api_generate, api_name="generate")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=32)
    return demo


demo = build()

if __name__ == "__main__":
    demo.launch(max_file_size=MAX_UPLOAD, allowed_paths=[cache.root],
                server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"))
