"""Run Python code with a tiny, full-able disk: a private tmpfs mounted in a new mount
namespace (needs root or unprivileged user namespaces; tests skip where neither works)."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def run_on_small_disk(code: str, mount: str, size: str = "300k") -> subprocess.CompletedProcess:
    """Run `code` (Python) with a `size` tmpfs mounted at `mount` (an existing empty folder)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) to mount a small tmpfs")
    for flags in (["-m"], ["-rm"]):
        probe = subprocess.run([unshare, *flags, "sh", "-c", f"mount -t tmpfs -o size=64k none {mount}"],
                               capture_output=True)
        if probe.returncode == 0:
            break
    else:
        pytest.skip("cannot mount a small tmpfs here (no root, no user namespaces)")
    script = f"mount -t tmpfs -o size={size} none {mount} && exec {sys.executable} -c \"$0\""
    return subprocess.run([unshare, *flags, "sh", "-c", script, code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT), timeout=300)
