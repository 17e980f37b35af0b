"""Where the stylegan engine's checkpoints come from, and loading them safely.

Lookup order for every file (first hit wins):
  1. a folder named by the caller (``--weights DIR``) or by $CINEGAN_WEIGHTS;
  2. ``weights/`` beside the package;
  3. a Hugging Face Hub model repository named by $CINEGAN_HUB_REPO (via
     huggingface_hub; $HF_HUB_OFFLINE=1 makes it use the local hub cache only).

Each network is found either as the authors' original file (layout of their
``pretrained_models/`` folder) or as the safetensors file that
``scripts/convert_weights.py`` writes. Loading never unpickles arbitrary
objects: ``torch.load(weights_only=True)`` with only ``argparse.Namespace``
allowed (the generator checkpoint holds one), or safetensors. Each state dict
is checked against the network: a missing, unexpected or misshaped tensor is
refused with a message naming it.

Verification (always on): the sha256 of every file loaded is computed once per
process and compared with the first digest known for it, from
  1. $CINEGAN_SHA256_<KEY> (e.g. CINEGAN_SHA256_ENCODER),
  2. a ``SHA256SUMS`` file beside it (the folder, or the Hub repo at the same revision),
  3. KNOWN_SHA256 below, shipped with CineGAN for the authors' original files.
A mismatch is a CineGANError. A file with no known digest is loaded but
reported (a warning on the "cinegan" logger, and ``Networks.unverified``);
with $CINEGAN_VERIFY=strict it is refused instead. ``Networks.digests`` and
``Networks.fingerprint`` identify the weights actually loaded (for cache keys).

Hub downloads come from the revision $CINEGAN_HUB_REVISION (a branch, tag or
40-hex commit; default DEFAULT_HUB_REVISION). Only a commit pins the files.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import re
import threading
from dataclasses import dataclass, field

import torch

from .errors import CineGANError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCAL = os.path.join(ROOT, "weights")
README = "weights/README.md"
log = logging.getLogger("cinegan")

# sha256 of the authors' original checkpoint files, by their path in pretrained_models/.
# Empty on purpose: the authors publish the files as a shared cloud-drive folder with no
# checksums, and no copy with a digest from a trustworthy source was found. A digest added
# here must come from the authors (or from files downloaded from their link and checked
# by the maintainers), never from a third-party mirror.
KNOWN_SHA256: dict[str, str] = {}

# Hub revision when $CINEGAN_HUB_REVISION is unset. There is no official CineGAN Hub
# repository to pin a commit of; the repository is the user's ($CINEGAN_HUB_REPO), so
# the default follows its main branch, and SHA256SUMS (at that same revision) is checked.
DEFAULT_HUB_REVISION = "main"
VERIFY_MODES = ("known", "strict")  # $CINEGAN_VERIFY: check known digests | also refuse unknown files


@dataclass(frozen=True)
class Checkpoint:
    key: str                   # short name, also the safetensors file stem
    original: str              # path in the authors' pretrained_models/ folder
    required: bool = True      # the engine cannot run without it
    what: str = ""


GENERATOR = Checkpoint("generator", "stylegan2-pytorch/sg2-lhq-1024.pt", what="StyleGAN2 generator (LHQ 1024)")
MEAN_LATENT = Checkpoint("mean_latent", "stylegan2-pytorch/sg2-lhq-1024-mean.pt", required=False,
                         what="mean W latent the encoder adds (else the generator's latent_avg)")
ENCODER = Checkpoint("encoder", "logs/lhq_k9/enc.pth.tar", what="feature-style encoder")
CLASSIFIERS = [Checkpoint(f"classifier_{i}", f"datasetgan/best_model_number_{i}.pth", required=False,
                          what="sky / fluid pixel classifier") for i in range(10)]
FLOW_SKY = Checkpoint("flow_sky", "img2flow_sky/latest_net_G.pth", required=False, what="sky motion predictor")
FLOW_FLUID = Checkpoint("flow_fluid", "img2flow_fluid/latest_net_G.pth", required=False,
                        what="water motion predictor")
ALL = [GENERATOR, MEAN_LATENT, ENCODER, *CLASSIFIERS, FLOW_SKY, FLOW_FLUID]


def safetensors_name(ck: Checkpoint) -> str:
    return f"{ck.key}.safetensors"


def _hub_repo() -> str | None:
    return os.environ.get("CINEGAN_HUB_REPO") or None


def hub_revision() -> str:
    """The Hub revision downloads come from: $CINEGAN_HUB_REVISION, else DEFAULT_HUB_REVISION."""
    return os.environ.get("CINEGAN_HUB_REVISION") or DEFAULT_HUB_REVISION


def verify_mode() -> str:
    """$CINEGAN_VERIFY: "known" (default: check every known digest, report unknown
    files) or "strict" (also refuse files without a known digest)."""
    mode = (os.environ.get("CINEGAN_VERIFY") or "known").strip().lower()
    if mode not in VERIFY_MODES:
        raise CineGANError(f"CINEGAN_VERIFY={mode!r} is not one of {', '.join(VERIFY_MODES)}")
    return mode


def folders(explicit: str | None = None) -> list[str]:
    """Local folders searched, in order."""
    out = []
    for d in (explicit, os.environ.get("CINEGAN_WEIGHTS"), LOCAL):
        if d and d not in out:
            out.append(d)
    return out


def _digests(folder_or_none: str | None, hub_file: str | None = None) -> dict[str, str]:
    """name -> sha256, later sources winning: the shipped KNOWN_SHA256, a SHA256SUMS
    file ("<hex>  <name>" lines) and $CINEGAN_SHA256_<KEY>."""
    out = dict(KNOWN_SHA256)
    path = hub_file or (os.path.join(folder_or_none, "SHA256SUMS") if folder_or_none else None)
    if path and os.path.isfile(path):
        for line in open(path, encoding="utf-8"):
            m = re.match(r"^([0-9a-fA-F]{64})\s+\*?(.+?)\s*$", line)
            if m:
                out[m.group(2)] = m.group(1).lower()
    for ck in ALL:
        env = os.environ.get(f"CINEGAN_SHA256_{ck.key.upper()}")
        if env:
            out[safetensors_name(ck)] = out[ck.original] = env.lower()
    return out


_HASHED: dict[tuple, str] = {}  # (path, device, inode, size, mtime_ns) -> sha256: each file hashed once
_HASHED_LOCK = threading.Lock()


def sha256_file(path: str) -> str:
    """sha256 (hex) of a file; remembered per process while the file is unchanged."""
    st = os.stat(path)
    ident = (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _HASHED_LOCK:
        if ident in _HASHED:
            return _HASHED[ident]
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    with _HASHED_LOCK:
        _HASHED[ident] = digest
    return digest


def _verify(ck: Checkpoint, path: str, name: str, digests: dict[str, str]) -> tuple[str, bool]:
    """(sha256, verified) of a checkpoint file: CineGANError when it differs from its
    known digest, or when none is known in strict mode; a warning when none is known."""
    mode = verify_mode()
    got = sha256_file(path)
    want = digests.get(name)
    if want:
        if got != want:
            raise CineGANError(f"checkpoint {path} is damaged or not the expected file (sha256 mismatch for "
                               f"{name}); download it again")
        return got, True
    how = (f"put a SHA256SUMS file beside it or set CINEGAN_SHA256_{ck.key.upper()} "
           f"(see {README})")
    if mode == "strict":
        raise CineGANError(f"checkpoint {path} has no known sha256 and CINEGAN_VERIFY=strict; {how}")
    log.warning("checkpoint %s has no known sha256 (loaded unverified, sha256 %s); to verify it, %s",
                path, got, how)
    return got, False


def fingerprint(digests: dict[str, str]) -> str:
    """sha256 (hex) identifying a set of loaded checkpoints: {checkpoint key: file sha256}.
    Use it in cache keys: other weights, other fingerprint."""
    return hashlib.sha256(json.dumps(sorted(digests.items())).encode()).hexdigest()


def _hub_download(name: str) -> str | None:
    """Path of `name` from the Hub repo (downloaded or from the local hub cache), or None."""
    repo = _hub_repo()
    if not repo:
        return None
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub is in requirements.txt
        return None
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
    try:
        return hf_hub_download(repo, name, revision=hub_revision(), local_files_only=offline)
    except (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError):
        return None
    except Exception as e:  # network trouble: say so rather than crash
        raise CineGANError(f"could not fetch {name} from the Hub repository {repo}: {e}") from None


def _local(ck: Checkpoint, explicit: str | None = None) -> tuple[str, str, str] | None:
    """(path, folder, name) of a checkpoint in the local folders, or None."""
    for folder in folders(explicit):
        for name in (safetensors_name(ck), ck.original):
            p = os.path.join(folder, name)
            if os.path.isfile(p):
                return p, folder, name
    return None


def locate(ck: Checkpoint, explicit: str | None = None) -> tuple[str, dict[str, str], str] | None:
    """(path, digests, name) of a checkpoint, or None if it is nowhere."""
    local = _local(ck, explicit)
    if local:
        return local[0], _digests(local[1]), local[2]
    for name in (safetensors_name(ck), ck.original):
        p = _hub_download(name)
        if p:
            sums = _hub_download("SHA256SUMS")
            return p, _digests(None, sums), name
    return None


def missing(explicit: str | None = None) -> list[str]:
    """The required checkpoints that cannot be found (empty when the engine can run).
    Does not download anything."""
    if _hub_repo():  # cannot tell without asking the Hub; loading will say
        return []
    return [ck.original for ck in (GENERATOR, ENCODER) if _local(ck, explicit) is None]


def _torch_load(path: str):
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, refused globals, truncated files
        raise CineGANError(f"cannot load checkpoint {path}: {str(e).splitlines()[0]}") from None


def _load_file(path: str) -> dict | torch.Tensor:
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise CineGANError(f"cannot load checkpoint {path}: {e}") from None
    return _torch_load(path)


def state_dict_of(ck: Checkpoint, obj) -> dict[str, torch.Tensor]:
    """The network's state dict inside a loaded checkpoint object."""
    if isinstance(obj, torch.Tensor):
        return {"latent": obj}
    if not isinstance(obj, dict):
        raise CineGANError(f"{ck.what} checkpoint holds a {type(obj).__name__}, not a state dict")
    if ck is GENERATOR:
        sd = dict(obj["g_ema"]) if "g_ema" in obj else dict(obj)  # original .pt | converted .safetensors
        latent_avg = obj.get("latent_avg", sd.pop("latent_avg", None))
        if isinstance(latent_avg, torch.Tensor):
            sd["__latent_avg__"] = latent_avg
        return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def load_state(ck: Checkpoint, explicit: str | None = None,
               report: dict | None = None) -> tuple[dict[str, torch.Tensor], str] | None:
    """Find, verify and load one checkpoint: (state dict, path) or None if absent.
    report, when given, gets report[ck.key] = (sha256, verified)."""
    found = locate(ck, explicit)
    if found is None:
        return None
    path, digests, name = found
    checked = _verify(ck, path, name, digests)
    if report is not None:
        report[ck.key] = checked
    return state_dict_of(ck, _load_file(path)), path


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], path: str, what: str) -> None:
    """Load a state dict into a module, refusing missing, extra or misshaped tensors."""
    own = module.state_dict()
    missing_keys = [k for k in own if k not in state]
    extra = [k for k in state if k not in own and not k.startswith("__")]
    shaped = [f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing_keys:
        problems.append(f"missing {len(missing_keys)} tensor(s), e.g. {missing_keys[0]}")
    if shaped:
        problems.append(f"wrong shape: {shaped[0]}")
    if extra:
        problems.append(f"unexpected tensor(s), e.g. {extra[0]}")
    if problems:
        raise CineGANError(f"{what} checkpoint {path} does not fit the network: {'; '.join(problems)}. "
                           f"Is it the right file? See {README}")
    module.load_state_dict({k: state[k] for k in own}, strict=True)


@dataclass
class Networks:
    """The loaded networks of the stylegan engine (None where a checkpoint is absent).

    sources:    {checkpoint key: path loaded}.
    digests:    {checkpoint key: sha256 of the file loaded}.
    unverified: checkpoint keys loaded without a known digest to check them against.
    """

    generator: torch.nn.Module
    mean_latent: torch.Tensor
    encoder: torch.nn.Module
    classifiers: list = field(default_factory=list)
    flow_sky: torch.nn.Module | None = None
    flow_fluid: torch.nn.Module | None = None
    sources: dict = field(default_factory=dict)
    digests: dict = field(default_factory=dict)
    unverified: list = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        """sha256 (hex) of the weights loaded (see ``fingerprint()``)."""
        return fingerprint(self.digests)


def load_networks(explicit: str | None = None, *, generator_kwargs: dict | None = None,
                  encoder_kwargs: dict | None = None, classifier_dim: int | None = None,
                  flow_kwargs: dict | None = None) -> Networks:
    """Load every checkpoint that exists; CineGANError naming what is missing or wrong.

    The *_kwargs build the networks at other sizes (tiny models in tests); the
    defaults are the real StyleCineGAN networks."""
    from .models.classifier import PixelClassifier
    from .models.encoder import FeatureStyleEncoder
    from .models.pix2pixhd import GlobalGenerator
    from .models.stylegan2 import Generator

    where = " or ".join([f"{d}/" for d in folders(explicit)] + ([f"Hub repo {_hub_repo()}"] if _hub_repo() else []))
    sources, checked = {}, {}
    verify_mode()  # a wrong setting is reported before anything is read
    g_state = load_state(GENERATOR, explicit, checked)
    e_state = load_state(ENCODER, explicit, checked)
    absent = [ck for ck, s in ((GENERATOR, g_state), (ENCODER, e_state)) if s is None]
    if absent:
        names = ", ".join(f"{ck.original} ({ck.what})" for ck in absent)
        raise CineGANError(f"the stylegan engine needs {names}; put the StyleCineGAN checkpoints in "
                           f"{where} as described in {README}, or use --engine pixel")
    generator = Generator(**(generator_kwargs or {"size": 1024}))
    state, sources["generator"] = g_state
    latent_avg = state.pop("__latent_avg__", None)
    load_into(generator, state, sources["generator"], GENERATOR.what)
    # The encoder was trained adding the separately computed mean W of sg2-lhq-1024-mean.pt,
    # not the generator's latent_avg (weights/README.md, "Mean latent"); latent_avg is a fallback.
    m = load_state(MEAN_LATENT, explicit, checked)
    if m is not None:
        latent_avg = next(iter(m[0].values()))
        sources["mean_latent"] = m[1]
    elif latent_avg is None:
        raise CineGANError(f"{MEAN_LATENT.original} (the mean latent the encoder adds) is missing and the "
                           f"generator checkpoint has no latent_avg; put it in {where} (see {README})")
    else:
        sources["mean_latent"] = f"{sources['generator']} (latent_avg; {MEAN_LATENT.original} not found)"
    mean = latent_avg.reshape(1, -1).float()
    if mean.shape[1] != generator.style_dim:
        raise CineGANError(f"mean latent has {mean.shape[1]} values, expected {generator.style_dim}")
    encoder = FeatureStyleEncoder(**(encoder_kwargs or {}))
    load_into(encoder, e_state[0], e_state[1], ENCODER.what)
    sources["encoder"] = e_state[1]
    classifiers = []
    for ck in CLASSIFIERS:
        s = load_state(ck, explicit, checked)
        if s is None:
            continue
        c = PixelClassifier(dim=classifier_dim or 1472)
        load_into(c, s[0], s[1], ck.what)
        classifiers.append(c.eval())
        sources[ck.key] = s[1]
    flows = {}
    for ck in (FLOW_SKY, FLOW_FLUID):
        s = load_state(ck, explicit, checked)
        if s is not None:
            net = GlobalGenerator(**(flow_kwargs or {}))
            load_into(net, s[0], s[1], ck.what)
            flows[ck.key] = net.eval()
            sources[ck.key] = s[1]
    return Networks(generator=generator.eval(), mean_latent=mean, encoder=encoder.eval(), classifiers=classifiers,
                    flow_sky=flows.get("flow_sky"), flow_fluid=flows.get("flow_fluid"), sources=sources,
                    digests={k: d for k, (d, _) in checked.items()},
                    unverified=sorted(k for k, (_, ok) in checked.items() if not ok))
