"""Loading a folder of documents: .txt and .md as they are, .html reduced to its visible text with the
standard library's parser. Each document keeps its source path; a binary or undecodable file is skipped
with a warning naming it, never a crash."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

SUFFIXES = (".txt", ".md", ".html", ".htm")


@dataclass
class Document:
    source: str  # the path it was read from (relative to the folder when loaded with load_folder)
    text: str
    meta: dict = field(default_factory=dict)


class _TextOnly(HTMLParser):
    """Collects the text outside <script>/<style>, a newline after each block element."""

    BLOCKS = {"p", "div", "br", "li", "tr", "section", "article", "h1", "h2", "h3", "h4", "h5", "h6", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in ("h1", "h2", "h3", "h4", "h5", "h6"):
            self.parts.append("\n" + "#" * int(tag[1]) + " ")  # headings become markdown headings

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n\n" if tag != "br" else "\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(lines).strip()


def read_document(path: Path, source: str | None = None) -> Document | None:
    """The document in `path`, or None (with a warning naming it) if it is binary or not UTF-8."""
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        warnings.warn(f"skipped {path}: binary file (NUL bytes)", stacklevel=2)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        warnings.warn(f"skipped {path}: not UTF-8 text ({exc.reason} at byte {exc.start})", stacklevel=2)
        return None
    if path.suffix.lower() in (".html", ".htm"):
        text = html_to_text(text)
    return Document(source or str(path), text, {"suffix": path.suffix.lower(), "bytes": len(data)})


def load_folder(folder: str | Path, suffixes: tuple[str, ...] = SUFFIXES) -> list[Document]:
    """Every .txt/.md/.html file under `folder` (recursively, sorted by path)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder; pass the folder that holds your documents")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    docs = [read_document(p, str(p.relative_to(folder))) for p in paths]
    return [d for d in docs if d is not None]
