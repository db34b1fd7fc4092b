"""The CIFAR-10 binary loader on small files in the real format (the archive itself cannot be downloaded
here): record layout, archive and folder resolution through $GROUNDUP_DATA, and bad files."""

from __future__ import annotations

import numpy as np
import pytest

from groundup.data import cifar
from groundup.errors import GroundupError

pytestmark = pytest.mark.module("3.3")


def fake_batches(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate((*cifar.TRAIN_FILES, cifar.TEST_FILE)):
        images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        labels = (np.arange(n) + i) % 10
        out[name] = (images, labels)
    return out


def test_record_layout_is_label_then_red_green_blue_planes():
    image = np.zeros((1, 3, 32, 32), np.uint8)
    image[0, 1, 0, 2] = 7  # green plane, row 0, column 2
    data = cifar.write_batch(image, np.array([3]))
    assert len(data) == 3073 and data[0] == 3 and data[1 + 1024 + 2] == 7
    images, labels = cifar.parse_batch(data)
    assert labels.tolist() == [3] and np.array_equal(images, image)


def test_loads_archive_from_groundup_data(tmp_path, monkeypatch):
    batches = fake_batches()
    cifar.write_archive(
        tmp_path / "cifar-10-binary.tar.gz", {k: cifar.write_batch(*v) for k, v in batches.items()}
    )
    monkeypatch.setenv("GROUNDUP_DATA", str(tmp_path))
    data = cifar.load_cifar10(download_ok=False)
    assert data.train_images.shape == (20, 3, 32, 32) and data.test_images.shape == (4, 3, 32, 32)
    assert np.array_equal(data.train_images[4:8], batches["data_batch_2.bin"][0])
    assert np.array_equal(data.test_labels, batches["test_batch.bin"][1])


def test_loads_extracted_folder(tmp_path):
    folder = tmp_path / cifar.FOLDER
    folder.mkdir()
    for name, (images, labels) in fake_batches(2).items():
        (folder / name).write_bytes(cifar.write_batch(images, labels))
    assert cifar.load_cifar10(tmp_path).train_labels.shape == (10,)


def test_bad_files_and_missing_data_are_explained(tmp_path, monkeypatch):
    with pytest.raises(GroundupError, match="multiple of the 3073-byte"):
        cifar.parse_batch(b"\x00" * 100)
    with pytest.raises(GroundupError, match="labels are 0-9"):
        cifar.parse_batch(bytes([12]) + bytes(3072))
    monkeypatch.setenv("GROUNDUP_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(GroundupError, match="cifar-10-binary.tar.gz under \\$GROUNDUP_DATA"):
        cifar.load_cifar10(download_ok=False)
    assert cifar.CIFAR10.sha256 == "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
