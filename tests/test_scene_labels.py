"""scripts/scene_labels.py dupes: a resized or re-encoded copy of a labelled photo is reported, another photo is not."""
import os
import sys

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import scene_labels  # noqa: E402

SCENES = os.path.join(ROOT, "data", "scenes")
PHOTO = os.path.join(SCENES, "ubuntucinnamon", "niagara-horseshoe-falls.jpg")
OTHER = os.path.join(SCENES, "ubuntumate", "yosemite-valley-distant-falls.jpg")


def test_dupes_reports_a_resized_copy_and_not_another_photo(tmp_path):
    img = scene_labels.load_image(PHOTO)
    copy = tmp_path / "copy.jpg"
    img.resize((img.width // 3, img.height // 3)).save(copy, quality=60)
    pools = (PHOTO, OTHER)
    found = scene_labels.dupes([str(copy)], pools=pools)
    assert [os.path.basename(f) for _, f, _ in found] == ["niagara-horseshoe-falls.jpg"]
    assert found[0][2] < scene_labels.DUPE_DIFF / 3
    # a different photo of falling water is not a duplicate, and a known photo is not its own duplicate
    assert scene_labels.dupes([OTHER], pools=pools) == []


def test_dupes_cli_exit_status(tmp_path, capsys):
    copy = tmp_path / "copy.jpg"
    scene_labels.load_image(PHOTO, side=400).save(copy)
    assert scene_labels.main(["dupes", str(copy)]) == 1
    assert "niagara-horseshoe-falls.jpg" in capsys.readouterr().out
