import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import numpy as np
import pytest

from groundup.data import datasets
from groundup.errors import DatasetNotFoundError


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """No $GROUNDUP_DATA and an empty cache: nothing is on disk."""
    monkeypatch.delenv("GROUNDUP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "shared_data_dir", lambda: None)
    return tmp_path


@pytest.fixture
def file_server(tmp_path):
    """A loopback HTTP server over a temporary folder; yields (folder, base_url)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_shakespeare_from_data_dir(data_dir):
    text = datasets.load_text("tinyshakespeare")
    assert text.startswith("First Citizen:") and len(text) == 1115394


def test_wikitext_splits(data_dir):
    valid, test = datasets.load_text("wikitext2", "valid"), datasets.load_text("wikitext2", "test")
    assert " = Robert <unk> = " in test and valid != test


def test_explicit_path_wins(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text("hello")
    assert datasets.load_text("tinyshakespeare", path=p) == "hello"


def test_unknown_dataset_and_split():
    with pytest.raises(DatasetNotFoundError, match="tinyshakespeare"):
        datasets.load_text("imagenet")
    with pytest.raises(DatasetNotFoundError, match="valid"):
        datasets.load_text("wikitext2", "train")


def test_offline_error_names_file_and_place(empty_env):
    with pytest.raises(DatasetNotFoundError, match=r"put tinyshakespeare/input.txt under \$GROUNDUP_DATA"):
        datasets.resolve_text_file("tinyshakespeare", download_ok=False)


def test_shared_data_beside_the_checkout_is_found_without_the_variable(tmp_path, monkeypatch):
    """The README's commands outside make (issue 14.8): ../shared/data, where the Makefile points
    $GROUNDUP_DATA, is searched after the variable and before the cache."""
    checkout = tmp_path / "groundup"
    (checkout / "tests").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    corpus = tmp_path / "shared" / "data" / "tinyshakespeare" / "input.txt"
    corpus.parent.mkdir(parents=True)
    corpus.write_text("First Citizen:")
    monkeypatch.delenv("GROUNDUP_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(checkout)
    assert datasets.data_dirs() == [corpus.parents[1], tmp_path / "cache" / "groundup"]
    assert datasets.resolve_text_file("tinyshakespeare", download_ok=False) == corpus
    monkeypatch.setenv("GROUNDUP_DATA", str(tmp_path / "mine"))
    assert datasets.data_dirs()[:2] == [tmp_path / "mine", corpus.parents[1]]


def test_download_checks_sha_and_stores_atomically(empty_env, file_server):
    root, base = file_server
    payload = b"To be, or not to be\n"
    (root / "input.txt").write_bytes(payload)
    remote = datasets.RemoteFile("tiny/input.txt", f"{base}/input.txt", hashlib.sha256(payload).hexdigest())
    dest = datasets.cache_dir() / remote.relative_path
    assert datasets.download(remote, dest) == dest
    assert dest.read_bytes() == payload
    assert not list(dest.parent.glob("*.part"))


def test_download_with_bad_checksum_saves_nothing(empty_env, file_server):
    root, base = file_server
    (root / "input.txt").write_bytes(b"tampered")
    remote = datasets.RemoteFile("tiny/input.txt", f"{base}/input.txt", "0" * 64)
    dest = datasets.cache_dir() / remote.relative_path
    with pytest.raises(DatasetNotFoundError, match="checksum mismatch"):
        datasets.download(remote, dest)
    assert not dest.exists()


def test_download_zip_member(empty_env, file_server):
    root, base = file_server
    text = b" = Heading = \n body\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("wikitext-2/wiki.test.tokens", text)
    (root / "w.zip").write_bytes(buffer.getvalue())
    remote = datasets.RemoteFile(
        "w/test.txt", f"{base}/w.zip", hashlib.sha256(text).hexdigest(), "wikitext-2/wiki.test.tokens"
    )
    assert datasets.download(remote, empty_env / "out.txt").read_bytes() == text


def test_download_unreachable_says_where_to_put_file(empty_env):
    remote = datasets.RemoteFile("tiny/input.txt", "http://127.0.0.1:9/none", "0" * 64)
    with pytest.raises(DatasetNotFoundError, match="put tiny/input.txt under"):
        datasets.download(remote, empty_env / "x.txt", timeout=2)


def test_resolve_downloads_into_cache(empty_env, file_server, monkeypatch):
    root, base = file_server
    payload = b"cached corpus"
    (root / "input.txt").write_bytes(payload)
    spec = {
        "train": datasets.RemoteFile(
            "toy/input.txt", f"{base}/input.txt", hashlib.sha256(payload).hexdigest()
        )
    }
    monkeypatch.setitem(datasets.TEXT_DATASETS, "toy", spec)
    assert datasets.load_text("toy") == "cached corpus"
    (root / "input.txt").unlink()  # the second load must come from the cache
    assert datasets.load_text("toy") == "cached corpus"


def test_mnist_5k_split_is_fixed_and_complete():
    split = datasets.load_mnist_5k()
    assert split.train_images.shape == (4000, 28, 28) and split.test_images.shape == (1000, 28, 28)
    assert split.train_images.dtype == np.uint8 and split.train_images.max() > 200
    assert set(np.unique(split.train_labels)) == set(range(10))
    again = datasets.load_mnist_5k()
    assert np.array_equal(split.test_labels, again.test_labels)


@pytest.mark.parametrize(
    "name,shape",
    [("iris", (150, 4)), ("wine", (178, 13)), ("breast_cancer", (569, 30)), ("digits", (1797, 64))],
)
def test_sklearn_tables(name, shape):
    X, y = datasets.load_sklearn(name)
    assert X.shape == shape and len(y) == shape[0] and X.dtype == np.float64
