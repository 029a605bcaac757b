"""Pretrained weights through the real pooch path: served over HTTP on 127.0.0.1 from the
checkout's ``registry/weights/``, fetched into a temporary cache, checked by sha256."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

from ebsdphase.core.errors import EbsdphaseError
from ebsdphase.models import pretrained

WEIGHTS = Path(__file__).resolve().parents[2] / "registry" / "weights"
MODEL = "dp-kam"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A copy of registry/weights served on 127.0.0.1; yields (folder, request log)."""
    if not (WEIGHTS / f"{MODEL}.weights.h5").exists():
        pytest.skip("registry/weights/ holds no weights (not a source checkout)")
    root = tmp_path / "www"
    shutil.copytree(WEIGHTS, root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("EBSDPHASE_MODELS_URL", f"http://127.0.0.1:{server.server_address[1]}/")
    monkeypatch.setenv("EBSDPHASE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("EBSDPHASE_REGISTRY_DIR", raising=False)
    try:
        yield root, server.requests
    finally:
        server.shutdown()
        server.server_close()


def _weights_requests(log: list[str]) -> int:
    return sum(p.endswith(f"/{MODEL}.weights.h5") for p in log)


def test_first_fetch_downloads_and_the_second_uses_the_cache(served, tmp_path):
    _, log = served
    folder = pretrained.fetch_pretrained(MODEL)
    assert folder == tmp_path / "cache" and (folder / f"{MODEL}.weights.h5").exists()
    assert _weights_requests(log) == 1 and any(p.endswith(f"/{MODEL}.json") for p in log)
    before = len(log)
    assert pretrained.fetch_pretrained(MODEL) == folder
    assert len(log) == before  # nothing downloaded the second time


def test_a_corrupt_cached_file_is_fetched_again(served, tmp_path):
    _, log = served
    folder = pretrained.fetch_pretrained(MODEL)
    (folder / f"{MODEL}.weights.h5").write_bytes(b"tampered")
    pretrained.fetch_pretrained(MODEL)
    assert _weights_requests(log) == 2
    assert (folder / f"{MODEL}.weights.h5").read_bytes() == (WEIGHTS / f"{MODEL}.weights.h5").read_bytes()


def test_a_server_with_a_wrong_file_is_tried_twice_then_refused_in_one_line(served, tmp_path):
    root, log = served
    (root / f"{MODEL}.weights.h5").write_bytes(b"not the weights the registry hashed")
    with pytest.raises(EbsdphaseError) as err:
        pretrained.fetch_pretrained(MODEL)
    msg = str(err.value)
    assert "\n" not in msg and MODEL in msg and "sha256" in msg
    assert _weights_requests(log) == 2  # fetched again once, then refused
    assert not (tmp_path / "cache" / f"{MODEL}.weights.h5").exists()  # nothing bad left in the cache


def test_without_a_checkout_the_weights_come_from_the_release_url(monkeypatch, tmp_path):
    monkeypatch.delenv("EBSDPHASE_MODELS_URL", raising=False)
    monkeypatch.delenv("EBSDPHASE_REGISTRY_DIR", raising=False)
    monkeypatch.setattr(pretrained, "CHECKOUT_WEIGHTS", tmp_path / "absent")
    assert pretrained.base_url() == pretrained.DEFAULT_MODELS_URL
    monkeypatch.setenv("EBSDPHASE_MODELS_URL", "http://example.invalid/m")
    assert pretrained.base_url() == "http://example.invalid/m/"
