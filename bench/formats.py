"""Channel formats through the app's API, at the app's real sizes: prints what came back.

    python bench/formats.py [PHOTO] [--seconds 3]

Starts app.py's page in this process on a loopback port (its own cache in a
temporary folder, the app's default render sizes unless CINEGAN_MAX_SIDE /
CINEGAN_CHANNEL_SIDE are set) and calls `/generate` through gradio_client:
a 9:16 story (MP4 facts read back with ffmpeg), a GIF under the default budget
(its real size against what `info` reports), and the same GIF again (the cache:
same info keys, cached true). Prints one line per call with the seconds it took.
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photo", nargs="?", default=os.path.join(ROOT, "examples", "mountain-clouds.jpg"))
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--gif-mb", type=float, default=8.0, help="the GIF budget asked for")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CINEGAN_CACHE"] = os.path.join(tmp, "cache")
        import app
        from gradio_client import Client, handle_file
        from PIL import Image
        from cinegan_core import read_video
        from test_formats import mp4_facts
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                        allowed_paths=[app.cache.root])
        try:
            client = Client(f"http://127.0.0.1:{port}", verbose=False)
            api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]
            print("outputs:", [r["label"] for r in api["returns"]], "photo:", Image.open(args.photo).size)

            t0 = time.perf_counter()
            video, info = client.predict(handle_file(args.photo), seconds=args.seconds, aspect="9:16",
                                         api_name="/generate")
            frames, _ = read_video(video)
            facts = mp4_facts(video)
            print(f"story: {time.perf_counter() - t0:.1f} s; frames {frames.shape[2]}x{frames.shape[1]} "
                  f"(h/w = {frames.shape[1] / frames.shape[2]:.4f}, 16/9 = {16 / 9:.4f}); {facts}; "
                  f"{os.path.getsize(video) / 1e6:.2f} MB; notes {[n for n in info['notes'] if 'format' in n]}")

            calls = []
            for _ in range(2):
                t0 = time.perf_counter()
                gif, info = client.predict(handle_file(args.photo), seconds=args.seconds, format="gif",
                                           gif_max_mb=args.gif_mb, api_name="/generate")
                calls.append((time.perf_counter() - t0, gif, info))
            (t1, gif, first), (t2, _, again) = calls
            out = first["output"]
            with Image.open(gif) as g:
                real = (g.size, g.n_frames, os.path.getsize(gif))
            print(f"gif: {t1:.1f} s; file {real[0][0]}x{real[0][1]}, {real[1]} frames, {real[2]} bytes; info "
                  f"{out['width']}x{out['height']}, {out['frames']} frames, {out['bytes']} bytes, {out['colors']} "
                  f"colours, {out['attempts']} encode(s); budget {first['settings']['gif_max_mb']} MB")
            print(f"status: {app.status_line(first)}")
            print(f"repeat: {t2:.2f} s; cached {again['cached']}; same keys {set(again) == set(first)}; "
                  f"same output {again['output'] == out}")
        finally:
            app.demo.close()


if __name__ == "__main__":
    main()
