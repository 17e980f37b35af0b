"""Convert the StyleCineGAN authors' checkpoints to safetensors, for the Hub.

    python scripts/convert_weights.py PRETRAINED_MODELS_DIR OUT_DIR

Reads the authors' ``pretrained_models/`` folder (the layout in weights/README.md),
loads each checkpoint safely (``torch.load(weights_only=True)``, only
``argparse.Namespace`` allowed), checks it against its network, and writes
``OUT_DIR/<name>.safetensors`` plus ``OUT_DIR/SHA256SUMS``. Upload OUT_DIR to a
Hugging Face model repository and point ``CINEGAN_HUB_REPO`` at it; or use OUT_DIR
(or the original folder) directly with ``--weights``.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def convert(src: str, out: str, **network_kwargs) -> list[str]:
    """Convert every checkpoint present in src; returns the file names written to out.
    network_kwargs go to weights.load_networks (other network sizes, for tests)."""
    from safetensors.torch import save_file

    from cinegan_core import weights as W
    from cinegan_core.errors import CineGANError

    if not os.path.isdir(src):
        raise CineGANError(f"{src!r} is not a folder")
    os.makedirs(out, exist_ok=True)
    nets = W.load_networks(src, **network_kwargs)  # validates every present checkpoint against its network
    written = []
    for ck in W.ALL:
        path = os.path.join(src, ck.original)
        if not os.path.isfile(path):
            continue
        state = W.state_dict_of(ck, W._torch_load(path))
        if ck is W.GENERATOR:
            state["latent_avg"] = nets.mean_latent.reshape(-1)
            state.pop("__latent_avg__", None)
        state = {k: v.contiguous() for k, v in state.items()}
        target = os.path.join(out, W.safetensors_name(ck))
        save_file(state, target, metadata={"source": ck.original, "what": ck.what})
        written.append(os.path.basename(target))
    with open(os.path.join(out, "SHA256SUMS"), "w", encoding="utf-8") as fh:
        for name in written:
            fh.write(f"{W.sha256_file(os.path.join(out, name))}  {name}\n")
    return written


def main(argv=None) -> int:
    from cinegan_core.errors import CineGANError
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python scripts/convert_weights.py PRETRAINED_MODELS_DIR OUT_DIR", file=sys.stderr)
        return 2
    try:
        written = convert(*argv)
    except CineGANError as e:
        print(f"convert_weights: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(written)} files and SHA256SUMS to {argv[1]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
