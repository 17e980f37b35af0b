"""The data card holds for every labelled photo: a licence that allows training and shipping, its source and
author, labels in the class vocabulary, a line in its folder's CARD.md, and the summary's counts (data/scenes)."""
import glob
import os
import re
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import scene_labels  # noqa: E402

SCENES = os.path.join(ROOT, "data", "scenes")
LABELS = sorted(glob.glob(os.path.join(SCENES, "*", "*.json")))
# Licences that allow training on a photo and shipping what is trained (no NC, ND or research-only terms).
ALLOWED = {"CC0-1.0", "LicenseRef-public-domain", "CC-BY-2.0", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-2.0",
           "CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "GPL-2.0-or-later", "GPL-3.0-or-later", "MIT",
           "LicenseRef-Unsplash", "LicenseRef-Pexels"}
MAX_BYTES = 4 << 20


def _inside(shape) -> bool:
    """A region's or ignore area's points lie on the photo (percent, with a point of slack)."""
    return all(-1.0 <= v <= 101.0 for point in scene_labels._points(shape, 100, 100) for v in point)


def _problems(path):
    """What is wrong with one label file (empty when nothing is)."""
    try:
        label = scene_labels.read(path)
    except ValueError as e:   # a class outside the vocabulary
        return [str(e)]
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
        if len(shapes) != 1:
            problems.append(f"region {region['class']} with {shapes}")
        elif not _inside(region):
            problems.append(f"region {region['class']} outside the photo")
    if not all(_inside(area) for area in label.get("ignore", [])):
        problems.append("ignore area outside the photo")
    with open(os.path.join(folder, "CARD.md"), encoding="utf-8") as f:
        if label.get("image", "?") not in f.read():
            problems.append("no line in the folder's CARD.md")
    return problems


def test_there_are_labelled_photos_in_both_splits():
    splits = [scene_labels.read(p)["split"] for p in LABELS]
    assert splits.count("train") > 300 and splits.count("heldout") > 50


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
        split = scene_labels.read(path)["split"]
        counts[folder] = (train + (split == "train"), heldout + (split == "heldout"))
    assert rows == counts
    totals = scene_labels.card(sorted(glob.glob(os.path.join(SCENES, "*", ""))))
    kept = ("- split ", "- class ", "- licence ")   # the summary leaves the tags out
    lines = [line for line in totals.splitlines() if line.startswith(kept)]
    assert lines and lines == [line for line in readme.splitlines() if line.startswith(kept)], \
        "README's totals are scene_labels.py card's"
