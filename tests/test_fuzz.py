"""Fuzzing: the inputs that once crashed a loader (tests/fuzz_cases/<target>/), and a
short coverage-guided run of bench/fuzz.py (the long runs are in bench)."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cinegan_core import CineGANError, load_mask, load_motion, load_photo
from conftest import ROOT

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_cases")
LOADERS = {
    "photo": lambda data: load_photo(data, max_side=64),
    "mask": lambda data: load_mask(data, (64, 48)),
    "motion": lambda data: load_motion(io.BytesIO(data)),
}


def _cases():
    for target in sorted(LOADERS):
        folder = os.path.join(CASES, target)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            yield pytest.param(target, os.path.join(folder, name), id=f"{target}/{name}")


def _outcome(load, source):
    """("ok", the array) or ("error", its one-line message): anything else (a crash) raises."""
    try:
        out = load(source)
    except CineGANError as e:
        assert str(e) and "\n" not in str(e)
        return "error", str(e)
    return "ok", np.asarray(getattr(out, "rgb", out))


@pytest.mark.parametrize("target,path", list(_cases()))
def test_a_former_crash_is_a_clean_error(target, path):
    data = open(path, "rb").read()
    kind, value = _outcome(LOADERS[target], data)
    if target == "motion":  # the same through a path, as the command line reads it: the same outcome
        again, other = _outcome(load_motion, path)
        assert again == kind
        if kind == "ok":
            assert np.array_equal(value, other)
        else:
            assert other.replace(repr(path), repr("motion")) == value  # the same problem, the source named


def test_short_fuzz_run_finds_nothing(tmp_path):
    pytest.importorskip("atheris", reason="atheris is pinned in requirements-dev.txt")
    res = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "fuzz.py"), "--target", "all", "--seconds",
                          "12", "--out", str(tmp_path), "--json", "--quiet"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    ran = {r["target"]: r for r in rows if r["available"]}
    assert {"photo", "mask", "motion", "api"} <= set(ran), res.stdout + res.stderr
    for r in ran.values():
        assert r["inputs"] > 200, r              # it really ran
        assert r["findings"] == 0, json.dumps(r["details"], indent=1)
    assert res.returncode == 0
