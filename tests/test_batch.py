"""Campaign batches: jobs files, expansion and names, the manifest, resuming, pool and Ray."""
import json
import os

import numpy as np
import pytest
from PIL import Image

import cinegan_core
from cinegan_core import CineGANError, RenderSettings, read_video
from cinegan_core.batch import MANIFEST, Row, batch, expand_row, make_settings, plan, read_jobs
from cinegan_core.cache import Cache
from cinegan_core.service import render_cached
from conftest import EXAMPLES, run_cli, sky_mask, textured


def write_campaign(folder, rows, header="photo,mask,presets,formats,frames,fps,engine"):
    """Two photos (a.png, b.png) and a mask in folder/in, and folder/in/jobs.csv."""
    src = folder / "in"
    src.mkdir(exist_ok=True)
    for name, seed in (("a.png", 0), ("b.png", 1)):
        Image.fromarray(textured(96, 128, seed)).save(src / name)
    Image.fromarray(sky_mask(96, 128).astype(np.uint8) * 255).save(src / "sky.png")
    jobs = src / "jobs.csv"
    jobs.write_text(header + "\n" + "\n".join(rows) + "\n")
    return jobs


def manifest(out):
    with open(os.path.join(out, MANIFEST)) as fh:
        return json.load(fh)


def stats(out):
    """{file name: (inode, mtime_ns)} of the videos in a batch folder."""
    return {n: (os.stat(os.path.join(out, n)).st_ino, os.stat(os.path.join(out, n)).st_mtime_ns)
            for n in os.listdir(out) if n.startswith("cinegan-")}


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Every test gets its own cache folder (workers inherit the variable)."""
    monkeypatch.setenv("CINEGAN_CACHE", str(tmp_path / "cache"))


# -- jobs files, expansion, names ------------------------------------------------------------
def test_rows_expand_into_presets_x_formats_with_unique_names(tmp_path):
    jobs = write_campaign(tmp_path, ["a.png,sky.png,calm|lively,mp4|gif,6,6,pixel",
                                     "b.png,,natural,webm,8,6,pixel"])
    planned = plan(jobs)
    assert [j.output for j in planned] == [
        "cinegan-a-calm.mp4", "cinegan-a-calm.gif", "cinegan-a-lively.mp4", "cinegan-a-lively.gif",
        "cinegan-b-natural.webm"]
    first = planned[0]
    assert first.photo == str(tmp_path / "in" / "a.png") and first.mask == str(tmp_path / "in" / "sky.png")
    # CSV text became typed settings, and a preset sets its motion scale as with_preset does
    assert first.settings == RenderSettings(frames=6, fps=6, engine="pixel").with_preset("calm")
    assert planned[2].settings.motion_scale == 1.8 and planned[4].mask is None


def test_names_stay_unique_and_stable(tmp_path):
    rows = [{"photo": "a.png", "frames": 6}, {"photo": "a.png", "frames": 8},
            {"photo": "a.png", "frames": "10|12"}, {"photo": "a.png", "name": "Hero Shot", "preset": "calm"},
            {"photo": "a.png", "frames": 6}]
    names = [j.output for j in plan(rows, base_dir=str(tmp_path))]
    assert len(set(names)) == len(names), names
    assert names[2:4] == ["cinegan-a-frames10.mp4", "cinegan-a-frames12.mp4"]  # varied values in the name
    assert names[4] == "cinegan-Hero-Shot-calm.mp4"
    # the two rows that only differ by frames get a digest of their settings, the same on every run;
    # the exact duplicate of row 1 gets -2
    assert names[0].startswith("cinegan-a-") and names[0] != names[1]
    assert names[5] == names[0][:-4] + "-2.mp4"
    assert names == [j.output for j in plan(rows, base_dir=str(tmp_path))]


def test_any_settings_field_expands_and_nested_columns(tmp_path):
    rows = [{"photo": "a.png", "fpss": "10|20", "engines": ["pixel", "auto"], "sky-direction": "90",
             "water_speed": 0.5, "arrows": "1,2,30,4"}]
    planned = plan(rows, base_dir=str(tmp_path))
    assert [(j.settings.fps, j.settings.engine) for j in planned] == [(10, "pixel"), (10, "auto"),
                                                                      (20, "pixel"), (20, "auto")]
    s = planned[0].settings
    assert (s.sky.direction, s.water.speed, len(s.arrows)) == (90.0, 0.5, 1)


def test_region_styles_are_columns_too(tmp_path):
    planned = plan([{"photo": "a.png", "water_style": "ripple|flow", "sky-style": "drift"}], base_dir=str(tmp_path))
    assert [(j.settings.sky.style, j.settings.water.style) for j in planned] == [("drift", "ripple"),
                                                                                 ("drift", "flow")]
    assert len({j.output for j in planned}) == 2 and planned[0].settings.key() != planned[1].settings.key()


def test_the_mask_reach_is_a_column_too(tmp_path):
    """A campaign can try the careful and the bold automatic mask side by side: two jobs, two files, two keys."""
    planned = plan([{"photo": "a.png", "mask_reach": "careful|bold"}], base_dir=str(tmp_path))
    assert [j.settings.mask_reach for j in planned] == ["careful", "bold"]
    assert len({j.output for j in planned}) == 2 and planned[0].settings.key() != planned[1].settings.key()


def test_aspects_expand_like_any_field(tmp_path):
    planned = plan([{"photo": "a.png", "presets": "calm|lively", "aspects": "16:9|1:1"}], base_dir=str(tmp_path))
    assert len(planned) == 4 and len({j.output for j in planned}) == 4
    assert {j.settings.aspect for j in planned} == {RenderSettings(aspect="16:9").aspect,
                                                    RenderSettings(aspect="1:1").aspect}
    assert any("16x9" in j.output for j in planned)


def test_bad_values_fail_their_job_only():
    jobs = expand_row(Row({"photo": "a.png", "presets": "calm|wild", "frames": "ten"}, "x line 2"), "/tmp")
    assert all(j.error and "frames" in j.error for j in jobs)
    jobs = expand_row(Row({"photo": "a.png", "presets": "calm|wild"}, "x line 2"), "/tmp")
    assert jobs[0].error is None and "unknown preset 'wild'" in jobs[1].error
    assert "photo" in expand_row(Row({"frames": 6}, "x line 3"), "/tmp")[0].error
    assert make_settings({"preset": "calm", "motion_scale": 0.5}).motion_scale == 0.5  # consistent: fine
    with pytest.raises(CineGANError, match="motion_scale"):
        make_settings({"preset": "calm", "motion_scale": 2})


def test_a_row_whose_list_expands_to_nothing_is_a_failed_row(tmp_path):
    """frames="|" expands to no value: that row is a failed job in the manifest (it was
    dropped, with no trace), and the other rows render."""
    jobs = write_campaign(tmp_path, ["a.png,sky.png,natural,mp4,6,6,pixel", "b.png,sky.png,natural,mp4,|,6,pixel",
                                     "b.png,sky.png,|,mp4,6,6,pixel"])
    report = batch(jobs, tmp_path / "out")
    m = manifest(tmp_path / "out")
    assert [j["status"] for j in m["jobs"]] == ["done", "failed", "failed"] and report.exit_code == 2
    assert [j["row"] for j in m["jobs"]] == ["jobs.csv line 2", "jobs.csv line 3", "jobs.csv line 4"]
    assert "frames lists no values" in m["jobs"][1]["error"] and "presets lists no values" in m["jobs"][2]["error"]


def test_the_order_of_the_columns_never_decides(tmp_path):
    """A region as one value and as its parts is refused whichever column comes first (the
    first order silently dropped sky_direction, the second raised)."""
    for sky in ({"speed": 2}, [0, 2]):
        for row in ({"photo": "a.png", "sky_direction": 90, "sky": sky}, {"photo": "a.png", "sky": sky,
                                                                         "sky_direction": 90}):
            job, = plan([row], base_dir=str(tmp_path))
            assert job.error and "either as sky_direction or as sky" in job.error, row
    rows = [{"photo": "a.png", "water_speed": "0.5", "fps": "10", "seconds": "2"},
            {"seconds": "2", "fps": "10", "water_speed": "0.5", "photo": "a.png"}]
    first, second = (plan([r], base_dir=str(tmp_path))[0].settings for r in rows)
    assert first == second and first.frames == 20


def test_jobs_file_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("photo,speeed\na.png,2\n")
    with pytest.raises(CineGANError, match="unknown column.*speeed"):
        read_jobs(bad)
    (tmp_path / "x.json").write_text("{\"jobs\": 3}")
    with pytest.raises(CineGANError, match="list of jobs"):
        read_jobs(tmp_path / "x.json")
    (tmp_path / "x.txt").write_text("photo\n")
    with pytest.raises(CineGANError, match="csv or .json"):
        read_jobs(tmp_path / "x.txt")
    with pytest.raises(CineGANError, match="does not exist"):
        read_jobs(tmp_path / "nope.csv")


def test_json_jobs_with_defaults(tmp_path):
    write_campaign(tmp_path, [])
    jobs = tmp_path / "in" / "jobs.json"
    jobs.write_text(json.dumps({"defaults": {"frames": 6, "fps": 6, "engine": "pixel", "mask": "sky.png"},
                                "jobs": [{"photo": "a.png", "presets": ["calm", "lively"]},
                                         {"photo": "b.png", "frames": 8, "sky": {"direction": 180}}]}))
    planned = plan(jobs)
    assert [j.output for j in planned] == ["cinegan-a-calm.mp4", "cinegan-a-lively.mp4", "cinegan-b.mp4"]
    assert planned[2].settings.frames == 8 and planned[2].settings.sky.direction == 180
    assert planned[2].mask == str(tmp_path / "in" / "sky.png")


# -- running batches -------------------------------------------------------------------------
def test_cli_bad_row_is_recorded_and_the_good_ones_render(tmp_path):
    jobs = write_campaign(tmp_path, ["a.png,sky.png,calm|lively,mp4,6,6,pixel",
                                     "missing.jpg,sky.png,natural,mp4,6,6,pixel",
                                     "b.png,sky.png,natural,gif,6,6,pixel"])
    out = tmp_path / "out"
    res = run_cli("batch", jobs, "--out", out, "--quiet")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("cinegan: batch: 4 jobs: 3 done, 0 skipped, 1 failed"), res.stderr
    assert lines[0].startswith("cinegan: failed: jobs.csv line 3") and "missing.jpg" in lines[0]
    assert "does not exist" in lines[0] and len(lines) == 2
    m = manifest(out)
    assert [j["status"] for j in m["jobs"]] == ["done", "done", "failed", "done"]
    assert m["summary"]["failed"] == 1 and m["finished"]
    bad = m["jobs"][2]
    assert "missing.jpg" in bad["error"] and "\n" not in bad["error"] and bad["output"] == "cinegan-missing-natural.mp4"
    assert not (out / bad["output"]).exists()
    for job in (m["jobs"][i] for i in (0, 1, 3)):
        frames, meta = read_video(out / job["output"])
        assert job["frames"] == 6 and len(frames) == 6 and frames.shape[1:3] == (96, 128)
        q = job["quality"]
        assert q["frozen_exact"] is True and abs(q["moving_share"] - 0.5) < 0.01 and 0.5 < q["seam_ratio"] < 2
        assert len(job["key"]) == 64 and job["settings"]["frames"] == 6 and job["seconds"] > 0
    beside = [f"{os.path.splitext(m['jobs'][i]['output'])[0]}{k}" for i in (0, 1, 3) for k in ("-poster.jpg",
                                                                                             "-embed.html")]
    assert m["delivery"] == sorted(beside + ["index.html"])
    assert sorted(os.listdir(out)) == sorted([".cinegan-batch.lock", MANIFEST, "index.html"] + beside +
                                             [m["jobs"][i]["output"] for i in (0, 1, 3)])  # no temporary files


def test_resume_skips_done_jobs_and_renders_only_the_changed_row(tmp_path):
    rows = ["a.png,sky.png,calm|lively,mp4,6,6,pixel", "b.png,sky.png,natural,mp4,6,6,pixel"]
    jobs = write_campaign(tmp_path, rows)
    out = str(tmp_path / "out")
    first = batch(jobs, out)
    assert first.exit_code == 0 and first.count("done") == 3
    before = stats(out)
    calls = []
    again = batch(jobs, out, progress=calls.append)
    assert again.exit_code == 0 and [j["status"] for j in again.jobs] == ["skipped"] * 3
    assert stats(out) == before  # nothing re-rendered or rewritten
    assert calls[-1] == {"stage": "batch", "step": 3, "total": 3}
    assert [j["quality"] for j in again.jobs] == [j["quality"] for j in first.jobs]  # carried over
    # one setting changed in one row: only that job renders again
    write_campaign(tmp_path, [rows[0], rows[1].replace(",6,6,", ",8,6,")])
    third = batch(jobs, out)
    assert [j["status"] for j in third.jobs] == ["skipped", "skipped", "done"]
    after = stats(out)
    assert {k: v for k, v in after.items() if k != "cinegan-b-natural.mp4"} == \
        {k: v for k, v in before.items() if k != "cinegan-b-natural.mp4"}
    assert after["cinegan-b-natural.mp4"] != before["cinegan-b-natural.mp4"]
    assert len(read_video(os.path.join(out, "cinegan-b-natural.mp4"))[0]) == 8


def test_each_loop_gets_its_poster_and_embed_code_and_the_folder_an_ab_page(tmp_path, monkeypatch):
    import html.parser
    from cinegan_core import pipeline
    jobs = write_campaign(tmp_path, ["a.png,sky.png,calm|lively,mp4|webm|webp|email,6,6,pixel"])
    out = tmp_path / "out"
    (out).mkdir()
    (out / "cinegan-a-lively-embed.html").write_text("mine")           # a file the batch did not write
    renders, real = [], pipeline.render
    monkeypatch.setattr(pipeline, "render", lambda *a, **k: renders.append(a[1]) or real(*a, **k))
    report = batch(jobs, out)
    assert report.exit_code == 0
    assert len(renders) == 2                                            # one render per loop, in four formats
    assert len({j["key"] for j in report.jobs}) == 8                    # each format its own cache entry
    outputs = [j["output"] for j in report.jobs]
    assert outputs == [f"cinegan-a-{p}{s}" for p in ("calm", "lively") for s in (".mp4", ".webm", ".webp", "-email.gif")]
    assert (out / "cinegan-a-lively-embed.html").read_text() == "mine"  # left alone
    code = (out / "cinegan-a-calm-embed.html").read_text()
    for words in ('<video autoplay muted loop playsinline preload="auto" poster="cinegan-a-calm-poster.jpg"',
                  'src="cinegan-a-calm.webm"', 'src="cinegan-a-calm.mp4"', 'src="cinegan-a-calm.webp"',
                  "aspect-ratio:128/96"):
        assert words in code
    with Image.open(out / "cinegan-a-calm-poster.jpg") as p:
        assert p.size == (128, 96)
        photo = np.asarray(Image.open(tmp_path / "in" / "a.png").convert("L"), float)
        assert np.abs(np.asarray(p.convert("L"), float) - photo).mean() < 3  # the untouched photo

    class Links(html.parser.HTMLParser):
        found = []

        def handle_starttag(self, tag, attrs):
            self.found += [v for k, v in attrs if k in ("href", "src", "poster")]

    page = (out / "index.html").read_text()
    Links().feed(page)
    assert Links.found and all((out / f).is_file() for f in Links.found)     # every link resolves
    assert {f for f in Links.found} >= set(outputs) | {"cinegan-a-calm-poster.jpg", "cinegan-a-calm-embed.html"}
    assert "cinegan-a-lively-embed.html" not in Links.found
    m = manifest(out)
    assert "index.html" in m["delivery"] and "cinegan-a-lively-embed.html" not in m["delivery"]
    before = {n: (out / n).stat().st_mtime_ns for n in os.listdir(out) if n != MANIFEST}
    again = batch(jobs, out)
    assert [j["status"] for j in again.jobs] == ["skipped"] * 8
    assert {n: (out / n).stat().st_mtime_ns for n in os.listdir(out) if n != MANIFEST} == before  # nothing rewritten
    os.remove(out / "cinegan-a-calm-poster.jpg")                         # a poster gone: its loop is copied out again
    third = batch(jobs, out)
    assert [j["status"] for j in third.jobs] == ["done"] * 4 + ["skipped"] * 4
    assert all(j["cached"] for j in third.jobs[:4]) and (out / "cinegan-a-calm-poster.jpg").is_file()


def test_the_key_is_the_render_cache_key(tmp_path):
    jobs = write_campaign(tmp_path, ["a.png,sky.png,lively,mp4,6,6,pixel"])
    report = batch(jobs, tmp_path / "out")
    job = plan(jobs)[0]
    cached = render_cached(job.photo, job.settings, cache=Cache(str(tmp_path / "c2")), mask=job.mask)
    assert report.jobs[0]["key"] == cached.info["key"]


def test_an_aspect_row_is_cropped_and_keyed_like_the_app(tmp_path):
    """A 1:1 row renders the square crop (with the user's mask framed the same way), under
    the key the app would use for the same settings."""
    jobs = write_campaign(tmp_path, ["a.png,sky.png,natural,mp4,6,6,pixel,1:1,0.25"],
                          header="photo,mask,presets,formats,frames,fps,engine,aspect,crop_x")
    report = batch(jobs, tmp_path / "out")
    job = plan(jobs)[0]
    assert report.jobs[0]["status"] == "done", report.jobs[0]
    frames, _ = read_video(str(tmp_path / "out" / report.jobs[0]["output"]))
    assert frames.shape[1] == frames.shape[2] == 96
    cached = render_cached(job.photo, job.settings, cache=Cache(str(tmp_path / "c2")), mask=job.mask)
    assert report.jobs[0]["key"] == cached.info["key"]
    assert batch(jobs, tmp_path / "out").jobs[0]["status"] == "skipped"


def test_a_loop_the_app_already_made_is_copied_out_not_rendered_again(tmp_path, monkeypatch):
    """Batch jobs go through the render cache the app uses (the environment's): a loop made
    for a visitor is copied into the batch folder, not rendered again."""
    import cinegan_core.pipeline as pipeline
    from cinegan_core.service import shared_cache
    jobs = write_campaign(tmp_path, ["a.png,sky.png,lively,mp4,6,6,pixel"])
    job = plan(jobs)[0]
    made = render_cached(job.photo, job.settings, cache=shared_cache(), mask=job.mask, name="a.png")
    monkeypatch.setattr(pipeline, "render", lambda *a, **k: pytest.fail("the loop was rendered again"))
    report = batch(jobs, tmp_path / "out")
    assert report.jobs[0]["status"] == "done" and report.jobs[0]["cached"] is True
    assert report.jobs[0]["key"] == made.info["key"]
    assert (tmp_path / "out" / job.output).read_bytes() == open(made.video, "rb").read()


def test_the_batch_keeps_the_cache_within_the_size_the_environment_asks(tmp_path, monkeypatch):
    """$CINEGAN_CACHE_GB holds for batches too (it was read by the app only)."""
    monkeypatch.setenv("CINEGAN_CACHE_GB", "0.000001")  # about 1 kB: nothing but the entry in use is kept
    jobs = write_campaign(tmp_path, ["a.png,sky.png,natural,mp4,6,6,pixel", "b.png,sky.png,natural,mp4,6,6,pixel"])
    assert batch(jobs, tmp_path / "out").exit_code == 0
    kept = [os.path.relpath(folder, tmp_path / "cache") for *_, folder in Cache(str(tmp_path / "cache")).entries()]
    assert len(kept) == 1 and kept[0].startswith("render"), kept  # the labels and the first loop were evicted


def test_interrupted_outputs_are_rendered_again_and_foreign_files_kept(tmp_path):
    jobs = write_campaign(tmp_path, ["a.png,sky.png,calm|lively,mp4,6,6,pixel"])
    out = tmp_path / "out"
    batch(jobs, out)
    # as if killed after the output was replaced but before the manifest recorded it
    m = manifest(out)
    m["jobs"][0].update(status="pending", key=None)
    (out / MANIFEST).write_text(json.dumps(m))
    (out / "cinegan-a-calm.mp4").write_bytes(b"half")
    # a file the batch did not make, under a job's name
    m["jobs"] = m["jobs"][:1]
    (out / MANIFEST).write_text(json.dumps(m))
    (out / "cinegan-a-lively.mp4").write_bytes(b"the user's own file")
    report = batch(jobs, out)
    assert [j["status"] for j in report.jobs] == ["done", "failed"]
    assert len(read_video(out / "cinegan-a-calm.mp4")[0]) == 6
    assert "not in this batch's manifest" in report.jobs[1]["error"]
    assert (out / "cinegan-a-lively.mp4").read_bytes() == b"the user's own file"
    (out / MANIFEST).write_text("{broken")
    with pytest.raises(CineGANError, match="cannot be read"):
        batch(jobs, out)


def test_process_pool_with_two_workers_shares_the_automatic_mask(tmp_path):
    # real photos, no mask: the automatic labels go through the shared disk cache (one entry per
    # photo; the cache's lock makes concurrent workers compute them once, see test_cache.py)
    sea, peaks = os.path.join(EXAMPLES, "sea-overcast.jpg"), os.path.join(EXAMPLES, "mountain-clouds.jpg")
    jobs = write_campaign(tmp_path, [f"{sea},calm|natural|lively,6,6,pixel,128",
                                     f"{peaks},calm|lively,6,6,pixel,128"],
                          header="photo,presets,frames,fps,engine,max_side")
    report = batch(jobs, tmp_path / "out", workers=2, cache_dir=str(tmp_path / "shared"))
    assert [j["status"] for j in report.jobs] == ["done"] * 5, [j["error"] for j in report.jobs]
    labels = [f for _, _, fs in os.walk(tmp_path / "shared" / "labels") for f in fs if f.endswith(".npz")]
    assert len(labels) == 2
    single = batch(jobs, tmp_path / "one", workers=1, cache_dir=str(tmp_path / "shared"))
    assert [j["key"] for j in single.jobs] == [j["key"] for j in report.jobs]
    for a, b in zip(single.jobs, report.jobs):
        assert a["output"] == b["output"] and a["quality"]["moving_share"] == b["quality"]["moving_share"]
        fa, _ = read_video(tmp_path / "one" / a["output"])
        fb, _ = read_video(tmp_path / "out" / b["output"])
        assert fa.shape == fb.shape and np.abs(fa.astype(int) - fb.astype(int)).mean() < 1.0


def test_ray_local(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install -r requirements-ray.txt")
    jobs = write_campaign(tmp_path, ["a.png,sky.png,calm|lively,mp4|gif,6,6,pixel",
                                     "missing.png,sky.png,natural,mp4,6,6,pixel"])
    out = tmp_path / "out"
    calls = []
    report = batch(jobs, out, ray="local", workers=2, progress=calls.append)
    assert [j["status"] for j in report.jobs] == ["done"] * 4 + ["failed"] and report.exit_code == 2
    assert calls[-1] == {"stage": "batch", "step": 5, "total": 5}
    for job in report.jobs[:4]:
        frames, _ = read_video(out / job["output"])
        assert len(frames) == 6 and job["quality"]["frozen_exact"]
    for stem in ("cinegan-a-calm", "cinegan-a-lively"):   # the poster came back from the node with its loop
        with Image.open(out / f"{stem}-poster.jpg") as p:
            assert p.format == "JPEG" and p.size == (128, 96)
    assert [j["key"] for j in report.jobs[:4]] == [j["key"] for j in batch(jobs, tmp_path / "one").jobs[:4]]
    assert [j["status"] for j in batch(jobs, out).jobs] == ["skipped"] * 4 + ["failed"]
    res = run_cli("batch", jobs, "--out", tmp_path / "o2", "--ray", "127.0.0.1:9", "--quiet")  # nothing there
    assert res.returncode == 2 and "cannot reach the Ray cluster" in res.stderr and "Traceback" not in res.stderr


def test_public_api_and_cli_errors(tmp_path):
    assert cinegan_core.batch is batch
    res = run_cli("batch", tmp_path / "nope.csv", "--out", tmp_path / "o")
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "does not exist" in res.stderr
    res = run_cli("batch", tmp_path / "nope.csv")
    assert res.returncode == 2 and "--out" in res.stderr and "Traceback" not in res.stderr
