"""CIFAR-10, binary version: 32x32 colour images in ten classes (Krizhevsky 2009), parsed with NumPy.

The archive `cifar-10-binary.tar.gz` (170,052,171 bytes, pinned sha256 below) holds
`cifar-10-batches-bin/data_batch_{1..5}.bin` (10,000 records each) and `test_batch.bin`. A record is
3,073 bytes: one label byte (0-9), then 1,024 red, 1,024 green and 1,024 blue bytes, each a 32x32
image in row-major order. No pickle is involved (the Python version of the set is pickled).

The archive resolves like every dataset (`groundup.data.datasets`): an explicit path, then
$GROUNDUP_DATA/cifar-10-binary.tar.gz (or the extracted `cifar-10-batches-bin/` folder beside it),
then the user cache, then a download checked against the sha256. This machine cannot download it: the
vision reports name the substitute they used.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from groundup.data.datasets import RemoteFile, cache_dir, data_dirs, download
from groundup.errors import DatasetNotFoundError, GroundupError

CIFAR10 = RemoteFile(
    "cifar-10-binary.tar.gz",
    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
RECORD = 1 + 3 * 32 * 32
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILE = "test_batch.bin"


class Cifar10(NamedTuple):
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


def parse_batch(data: bytes, name: str = "batch") -> tuple[np.ndarray, np.ndarray]:
    """One binary batch file -> (images uint8 (N, 3, 32, 32), labels int64 (N,))."""
    if len(data) % RECORD:
        raise GroundupError(
            f"{name} has {len(data)} bytes, not a multiple of the {RECORD}-byte CIFAR-10 record; "
            "is it the binary version (cifar-10-binary.tar.gz)?"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise GroundupError(f"{name} has label {labels.max()}; CIFAR-10 labels are 0-9")
    return records[:, 1:].reshape(-1, 3, 32, 32).copy(), labels


def _read_members(source: Path) -> dict[str, bytes]:
    """The batch files from an archive or an extracted folder, by base name."""
    names = (*TRAIN_FILES, TEST_FILE)
    if source.is_dir():
        folder = source / FOLDER if (source / FOLDER).is_dir() else source
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise DatasetNotFoundError(f"{folder} lacks {', '.join(missing)}")
        return {n: (folder / n).read_bytes() for n in names}
    with tarfile.open(source, "r:gz") as archive:
        found = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
        missing = [n for n in names if n not in found]
        if missing:
            raise DatasetNotFoundError(
                f"{source} lacks {', '.join(missing)}: not the CIFAR-10 binary archive"
            )
        return {n: archive.extractfile(found[n]).read() for n in names}


def resolve_cifar10(path: str | os.PathLike | None = None, *, download_ok: bool = True) -> Path:
    """The archive (or extracted folder): explicit path, $GROUNDUP_DATA, cache, else download."""
    if path is not None:
        if not Path(path).exists():
            raise DatasetNotFoundError(f"{path} does not exist; pass cifar-10-binary.tar.gz or its folder")
        return Path(path)
    for folder in data_dirs():
        for candidate in (folder / CIFAR10.relative_path, folder / FOLDER):
            if candidate.exists():
                return candidate
    if not download_ok:
        raise DatasetNotFoundError(
            f"CIFAR-10 not found: put {CIFAR10.relative_path} under $GROUNDUP_DATA or {cache_dir()}"
        )
    return download(CIFAR10, cache_dir() / CIFAR10.relative_path)


def load_cifar10(path: str | os.PathLike | None = None, *, download_ok: bool = True) -> Cifar10:
    """CIFAR-10's 50,000 training and 10,000 test images (uint8, channels first) with labels."""
    members = _read_members(resolve_cifar10(path, download_ok=download_ok))
    train = [parse_batch(members[n], n) for n in TRAIN_FILES]
    test_images, test_labels = parse_batch(members[TEST_FILE], TEST_FILE)
    return Cifar10(
        np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), test_images, test_labels
    )


def write_batch(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The binary record format (the inverse of `parse_batch`): for tests and small fixtures."""
    images = np.asarray(images, dtype=np.uint8).reshape(len(labels), -1)
    return np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], images], axis=1).tobytes()


def write_archive(path: str | os.PathLike, batches: dict[str, bytes]) -> Path:
    """A .tar.gz laid out like the real archive, holding the given batch files."""
    path = Path(path)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"{FOLDER}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
