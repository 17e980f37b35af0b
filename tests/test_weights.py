"""Checkpoint verification by default, unknown files reported, and the fingerprint of
the weights actually loaded (for cache keys)."""
import hashlib
import logging

import pytest

import standins
from cinegan_core import CineGANError
from cinegan_core import weights as W


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """Tiny checkpoints in the authors' layout, no SHA256SUMS, no digest variables."""
    folder = tmp_path / "w"
    standins.write_tiny(str(folder), classifiers=1, flows=False)
    for key in list(__import__("os").environ):
        if key.startswith(("CINEGAN_SHA256_", "CINEGAN_VERIFY", "CINEGAN_HUB")):
            monkeypatch.delenv(key)
    return folder


def test_shipped_digests_are_checked_without_being_asked(tiny, monkeypatch):
    monkeypatch.setitem(W.KNOWN_SHA256, W.ENCODER.original, "0" * 64)   # "the official encoder"
    with pytest.raises(CineGANError, match=r"sha256 mismatch for logs/lhq_k9/enc\.pth\.tar"):
        standins.tiny_networks(str(tiny))


def test_shipped_digest_that_matches_counts_as_verified(tiny, monkeypatch):
    monkeypatch.setitem(W.KNOWN_SHA256, W.ENCODER.original, W.sha256_file(str(tiny / W.ENCODER.original)))
    nets = standins.tiny_networks(str(tiny))
    assert "encoder" not in nets.unverified and "generator" in nets.unverified


def test_a_user_digest_overrides_the_shipped_one(tiny, monkeypatch):
    monkeypatch.setitem(W.KNOWN_SHA256, W.ENCODER.original, "0" * 64)
    monkeypatch.setenv("CINEGAN_SHA256_ENCODER", W.sha256_file(str(tiny / W.ENCODER.original)))
    assert "encoder" not in standins.tiny_networks(str(tiny)).unverified


def test_files_without_a_known_digest_are_reported_not_silently_trusted(tiny, caplog):
    with caplog.at_level(logging.WARNING, logger="cinegan"):
        nets = standins.tiny_networks(str(tiny))
    assert set(nets.unverified) == {"generator", "encoder", "classifier_0"}
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "no known sha256" in text and "sg2-lhq-1024.pt" in text


def test_strict_mode_refuses_files_without_a_known_digest(tiny, monkeypatch):
    monkeypatch.setenv("CINEGAN_VERIFY", "strict")
    with pytest.raises(CineGANError, match="no known sha256.*SHA256SUMS"):
        standins.tiny_networks(str(tiny))
    (tiny / "SHA256SUMS").write_text("".join(f"{W.sha256_file(str(tiny / ck.original))}  {ck.original}\n"
                                             for ck in (W.GENERATOR, W.ENCODER, W.CLASSIFIERS[0])))
    assert standins.tiny_networks(str(tiny)).unverified == []


def test_an_unknown_verify_mode_is_an_error(tiny, monkeypatch):
    monkeypatch.setenv("CINEGAN_VERIFY", "sometimes")
    with pytest.raises(CineGANError, match="CINEGAN_VERIFY"):
        standins.tiny_networks(str(tiny))


def test_fingerprint_follows_the_bytes_loaded(tiny):
    a = standins.tiny_networks(str(tiny))
    b = standins.tiny_networks(str(tiny))
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 64
    assert set(a.digests) == {"generator", "encoder", "classifier_0"}
    with open(a.sources["encoder"], "rb") as fh:
        assert a.digests["encoder"] == hashlib.sha256(fh.read()).hexdigest()   # the digest is of the file's bytes
    standins.write_tiny(str(tiny), seed=1, classifiers=1, flows=False)   # other weights, same names
    assert standins.tiny_networks(str(tiny)).fingerprint != a.fingerprint
