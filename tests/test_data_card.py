"""The data card holds for every labelled photo: a licence that allows training and shipping, its source and
author, labels in the class vocabulary, a line in its folder's CARD.md, and the summary's counts (data/scenes)."""
import glob
import json
import os
import re
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import scene_labels  # noqa: E402

SCENES = os.path.join(ROOT, "data", "scenes")
LABELS = sorted(glob.glob(os.path.join(SCENES, "*", "*.json")))
# Licences that allow training on a photo and shipping what is trained (no NC, ND or research-only terms).
ALLOWED = {"CC0-1.0", "LicenseRef-public-domain", "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0",
           "CC-BY-SA-4.0", "GPL-2.0-or-later", "GPL-3.0-or-later", "MIT", "LicenseRef-Unsplash",
           "LicenseRef-Pexels"}
MAX_BYTES = 4 << 20


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _points(region):
    if "poly" in region:
        return region["poly"]
    if "line" in region:
        return region["line"]
    x0, y0, x1, y1 = region["box"]
    return [[x0, y0], [x1, y1]]


def test_there_are_labelled_photos_in_both_splits():
    splits = [_load(p)["split"] for p in LABELS]
    assert splits.count("train") > 300 and splits.count("heldout") > 50


def _problems(path):
    """What is wrong with one label file (empty when nothing is)."""
    label = _load(path)
    folder = os.path.dirname(path)
    problems = []
    photo = os.path.join(folder, label.get("image", ""))
    if label.get("image") != os.path.basename(path)[:-len(".json")] + ".jpg" or not os.path.isfile(photo):
        problems.append("its photo is not NAME.jpg beside it")
    elif os.path.getsize(photo) > MAX_BYTES:
        problems.append("photo over 4 MB")
    if label.get("licence") not in ALLOWED:
        problems.append(f"licence {label.get('licence')!r} not allowed")
    if not str(label.get("source", "")).strip() or not str(label.get("author", "")).strip():
        problems.append("no source or author")
    if label.get("split") not in ("train", "heldout") or not isinstance(label.get("tags"), list):
        problems.append("split or tags")
    for region in label.get("regions", []):
        shapes = [k for k in ("poly", "box", "line") if k in region]
        if region.get("class") not in scene_labels.CLASSES or len(shapes) != 1:
            problems.append(f"region {region.get('class')!r} with {shapes}")
        elif not all(-1.0 <= v <= 101.0 for point in _points(region) for v in point):
            problems.append(f"region {region['class']} outside the photo")
    with open(os.path.join(folder, "CARD.md"), encoding="utf-8") as f:
        if label.get("image", "?") not in f.read():
            problems.append("no line in the folder's CARD.md")
    return problems


def test_every_label_has_its_photo_an_allowed_licence_and_valid_regions():
    problems = {os.path.relpath(p, SCENES): _problems(p) for p in LABELS}
    assert {k: v for k, v in problems.items() if v} == {}


def test_every_photo_has_its_label():
    photos = glob.glob(os.path.join(SCENES, "*", "*.jpg"))
    assert photos and all(os.path.isfile(p[:-len(".jpg")] + ".json") for p in photos)


def test_the_summarys_table_and_totals_count_what_the_folders_hold():
    with open(os.path.join(SCENES, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    rows = dict((m.group(1), (int(m.group(2)), int(m.group(3))))
                for m in re.finditer(r"^\| ([\w-]+) \| (\d+) \| (\d+) \| \[", readme, re.M))
    counts = {}
    for path in LABELS:
        folder = os.path.basename(os.path.dirname(path))
        train, heldout = counts.get(folder, (0, 0))
        split = _load(path)["split"]
        counts[folder] = (train + (split == "train"), heldout + (split == "heldout"))
    assert rows == counts
    totals = (sum(t for t, _ in counts.values()), sum(h for _, h in counts.values()))
    assert f"- split train: {totals[0]} / 0" in readme and f"- split heldout: 0 / {totals[1]}" in readme
    licences = {}
    for path in LABELS:
        label = _load(path)
        train, heldout = licences.get(label["licence"], (0, 0))
        licences[label["licence"]] = (train + (label["split"] == "train"), heldout + (label["split"] == "heldout"))
    for licence, (train, heldout) in licences.items():
        assert f"- licence {licence}: {train} / {heldout}" in readme
