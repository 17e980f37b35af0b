"""Load: start the app and drive /generate with concurrent API clients.

    python bench/load.py                                  # 8 photos x 2, all at once, concurrency 2
    python bench/load.py --distinct 4 --repeat 4 --concurrency 1 --max-side 384
    python bench/load.py --kill-test                      # kill -9 during a render, restart, ask again
    python bench/load.py --cache-gb 0.000001              # 16 calls, a cache too small to keep anything

Starts ``python app.py`` on a free loopback port with a fresh temporary
CINEGAN_CACHE (CINEGAN_CONCURRENCY, CINEGAN_MAX_SIDE and CINEGAN_CACHE_GB set
from the options; a tiny --cache-gb makes every store evict every entry not in
use, so requests race evictions),
then sends distinct x repeat `/generate` requests at once, one gradio_client
per thread (the same photo `repeat` times: identical requests), and prints:
requests, served, errors (with their messages), p50 / p95 / max latency,
renders vs cache hits (from each answer's "cached"), whether every answer's
video decodes with the frames asked for and carries its photo's name, the
cache's entries, and the error lines of the server's log. Photos: the shared test photos (a
different one per distinct request), else the examples.

--kill-test: one request; when its render has started (a writer's .tmp-*
folder appears in the cache) the app is killed with SIGKILL; then checks that
no partial file is in the cache, restarts the app on the same cache, sends the
same request twice and checks that it renders once (cached false, then true)
and that the video decodes.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
PHOTO_DIRS = [os.path.join(ROOT, "..", "shared", "data", "photos"), os.path.join(ROOT, "examples")]
# photos with sky or water the automatic mask finds (forest-stream has neither to find)
PREFERRED = ["alpine-clouds.png", "mountain-clouds.jpg", "ocean-waves.jpg", "sea-overcast.jpg",
             "sunset-skyline.jpg", "river-bridge-night.jpg", "dune-sea.jpg", "valley-sunbeam.jpg",
             "storm-clouds.jpg", "foggy-lake.jpg", "green-hills.jpg"]


def photos(n: int) -> list[str]:
    found = []
    for d in PHOTO_DIRS:
        if os.path.isdir(d):
            names = [p for p in PREFERRED if os.path.exists(os.path.join(d, p))]
            names += sorted(p for p in os.listdir(d) if p.lower().endswith((".jpg", ".jpeg", ".png"))
                            and p not in names)
            found += [os.path.abspath(os.path.join(d, p)) for p in names]
    if len(found) < n:
        sys.exit(f"need {n} photos, found {len(found)}")
    return found[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """python app.py as a child process, its output in a log file."""

    def __init__(self, cache: str, concurrency: int, max_side: int, log: str, cache_gb: float | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ, CINEGAN_CACHE=cache, CINEGAN_CONCURRENCY=str(concurrency),
                   CINEGAN_MAX_SIDE=str(max_side), GRADIO_SERVER_PORT=str(self.port),
                   GRADIO_SERVER_NAME="127.0.0.1", GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
        if cache_gb is not None:
            env["CINEGAN_CACHE_GB"] = str(cache_gb)
        self.log_path = log
        self._log = open(log, "a")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 300) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"app not ready after {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


def generate(url: str, photo: str, seconds: float, fps: float) -> tuple[float, dict]:
    """One /generate call from its own client: (seconds, {"ok", "info" | "error", "video"})."""
    from gradio_client import Client, handle_file
    t0 = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        video, info = client.predict(handle_file(photo), seconds=seconds, fps=fps, api_name="/generate")
        return time.perf_counter() - t0, {"ok": True, "info": info, "video": video, "photo": photo}
    except Exception as e:  # noqa: BLE001 - every failure is a figure here
        return time.perf_counter() - t0, {"ok": False, "error": f"{type(e).__name__}: {e}", "photo": photo}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def cache_entries(cache: str) -> dict:
    """Entries (folders with their digests) per kind, hand-out folders, temporaries."""
    entries = glob.glob(os.path.join(cache, "*", "*", "*", "digests.json"))
    kinds = {}
    for p in entries:
        kind = os.path.relpath(p, cache).split(os.sep)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    temps = [p for p in glob.glob(os.path.join(cache, "**", ".tmp-*"), recursive=True)]
    return {"render_entries": kinds.get("render", 0), "labels": kinds.get("labels", 0),
            "hand_outs": len(glob.glob(os.path.join(cache, "out", "*"))), "temporaries": len(temps)}


def check_video(answer: dict, frames: int) -> bool:
    """The answer's video decodes with the frames asked for and is named after its photo."""
    from cinegan_core import read_video
    stem = os.path.splitext(os.path.basename(answer["photo"]))[0]
    try:
        return len(read_video(answer["video"])[0]) == frames and os.path.basename(answer["video"]).startswith(
            f"cinegan-{stem}")
    except Exception:  # noqa: BLE001 - a figure here
        return False


def server_errors(log: str) -> list[str]:
    text = open(log, errors="replace").read()
    return [ln for ln in text.splitlines() if re.search(r"Traceback|Error|Exception", ln)]


def load_run(a) -> dict:
    work = tempfile.mkdtemp(prefix="cinegan-load-")
    cache, log = os.path.join(work, "cache"), os.path.join(work, "app.log")
    app = App(cache, a.concurrency, a.max_side, log, a.cache_gb)
    try:
        startup = app.wait_ready()
        jobs = [p for p in photos(a.distinct) for _ in range(a.repeat)]
        results: list = [None] * len(jobs)
        barrier = threading.Barrier(len(jobs))

        def worker(i, photo):
            barrier.wait()
            results[i] = generate(app.url, photo, a.seconds, a.fps)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(i, p)) for i, p in enumerate(jobs)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        wall = time.perf_counter() - t0
    finally:
        app.stop()
    ok = [r for _, r in results if r["ok"]]
    lat = [t for t, r in results if r["ok"]]
    frames = round(a.seconds * a.fps)
    intact = sum(check_video(r, frames) for r in ok)
    errors = sorted({r["error"][:200] for _, r in results if not r["ok"]})
    return {"requests": len(jobs), "distinct_photos": a.distinct, "concurrency": a.concurrency,
            "max_side": a.max_side, "frames": frames, "cache_gb": a.cache_gb, "served": len(ok),
            "videos_intact": intact, "errors": len(jobs) - len(ok), "error_messages": errors,
            "renders": sum(1 for r in ok if not r["info"].get("cached")),
            "cache_hits": sum(1 for r in ok if r["info"].get("cached")),
            "p50_s": round(percentile(lat, 50), 2), "p95_s": round(percentile(lat, 95), 2),
            "max_s": round(max(lat), 2) if lat else None, "wall_s": round(wall, 1),
            "startup_s": round(startup, 1), **cache_entries(cache),
            "server_log_errors": server_errors(log)[:10], "work_dir": work}


def kill_test(a) -> dict:
    from cinegan_core import read_video
    work = tempfile.mkdtemp(prefix="cinegan-kill-")
    cache, log = os.path.join(work, "cache"), os.path.join(work, "app.log")
    photo = photos(1)[0]
    app = App(cache, 1, a.max_side, log)
    app.wait_ready()
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("first", generate(app.url, photo, a.seconds, a.fps)))
    t.start()
    def rendering() -> bool:  # a writer's folder holds a part-written video
        return any(os.listdir(d) for d in glob.glob(os.path.join(cache, "render", "*", ".tmp-*")))

    t0 = time.monotonic()
    while time.monotonic() - t0 < 300 and not rendering():
        time.sleep(0.05)
    time.sleep(a.kill_after)
    in_render = rendering()
    app.kill()
    t.join()
    partial = sorted(p for p in glob.glob(os.path.join(cache, "render", "*", "*")) if ".tmp-" not in p)  # entries
    left = sorted(glob.glob(os.path.join(cache, "**", ".tmp-*"), recursive=True))
    app = App(cache, 1, a.max_side, log)
    try:
        app.wait_ready()
        _, again = generate(app.url, photo, a.seconds, a.fps)
        _, third = generate(app.url, photo, a.seconds, a.fps)
    finally:
        app.stop()
    frames = len(read_video(again["video"])[0]) if again["ok"] else 0
    after = cache_entries(cache)
    return {"killed_during_render": in_render, "first_request": "failed" if not out["first"][1]["ok"] else "served",
            "entries_after_kill": len(partial), "debris_after_kill": len(left),
            "after_restart": (again["info"].get("cached") if again["ok"] else again["error"][:200]),
            "then": (third["info"].get("cached") if third["ok"] else third["error"][:200]),
            "frames_decoded": frames, "frames_expected": round(a.seconds * a.fps),
            "render_entries_at_end": after["render_entries"], "server_log_errors": server_errors(log)[:10],
            "work_dir": work}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--distinct", type=int, default=8, help="different photos")
    p.add_argument("--repeat", type=int, default=2, help="identical requests per photo")
    p.add_argument("--concurrency", type=int, default=2, help="CINEGAN_CONCURRENCY of the app")
    p.add_argument("--max-side", type=int, default=512, help="CINEGAN_MAX_SIDE of the app, px")
    p.add_argument("--seconds", type=float, default=1.0, help="loop length asked for")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--cache-gb", type=float, default=None,
                   help="CINEGAN_CACHE_GB of the app (default: its own, 2); tiny values race evictions")
    p.add_argument("--kill-test", action="store_true")
    p.add_argument("--kill-after", type=float, default=1.0, help="seconds into the render the app is killed")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    res = kill_test(a) if a.kill_test else load_run(a)
    if a.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:22s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
