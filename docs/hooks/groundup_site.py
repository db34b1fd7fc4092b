"""mkdocs hooks that build the site's generated pages from the checkout (nothing here is committed output):

    notebooks/<name>.md   each notebooks/*.py (jupytext percent format) as a page: markdown cells as
                          text, code cells as code (the notebooks run in tests/notebooks, not here)
    api/<area>.md         the API reference of one area package, from its docstrings (mkdocstrings)
    source/<path>.md      every file of src/groundup as a highlighted page: the "source" links
    dashboard.md          the curriculum dashboard from the last test results (`make test`), else the
                          committed docs/PROGRESS.md

and rewrite a note's file pointers (`src/groundup/grad/scalar.py`, `groundup/serve/engine.py`) into
links to those source pages.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "groundup"
POINTER = re.compile(r"(?<![\[/\w])`((?:src/)?groundup/[\w/]+\.py)`")


class DocstringIndexing(logging.Filter):
    """Docstrings are plain text, not Markdown: an indexing example such as `probs[T][H]` reads as a
    reference-style link to autorefs, which then warns that no object `H` exists. Those warnings (and
    only those, on API pages) become INFO, so that `--strict` still fails on every real broken link."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if (
            record.levelno == logging.WARNING
            and "Could not find cross-reference target" in message
            and "api/" in message
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_startup(command, dirty):
    for name in ("plugin", "references", "backlinks"):  # mkdocs-autorefs 1.4's loggers
        logging.getLogger(f"mkdocs.plugins.mkdocs_autorefs._internal.{name}").addFilter(DocstringIndexing())


def on_files(files, config):
    for uri, content in generated_pages():
        files.append(File.generated(config, uri, content=content))
    return files


def generated_pages():
    yield "dashboard.md", dashboard()
    for path in sorted((ROOT / "notebooks").glob("[0-9]*.py")):
        yield f"notebooks/{path.stem}.md", notebook_page(path)
    for area in areas():
        yield f"api/{area}.md", api_page(area)
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        yield f"source/{rel[:-3]}.md", source_page(path, rel)


def areas() -> list[str]:
    return sorted(p.parent.name for p in SRC.glob("*/__init__.py"))


def modules(area: str) -> list[str]:
    names = []
    for path in sorted((SRC / area).rglob("*.py")):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if path.name == "__init__.py":
            parts = parts[:-1]
        if "csrc" not in parts:
            names.append(".".join(parts))
    return names


def api_page(area: str) -> str:
    out = [f"# groundup.{area}", ""]
    for name in modules(area):
        rel = (
            "src/"
            + name.replace(".", "/")
            + (".py" if not (SRC.parent / name.replace(".", "/")).is_dir() else "/__init__.py")
        )
        out += [
            f"## `{name}`",
            "",
            f"[source: `{rel}`](../source/{rel[:-3]}.md)",
            "",
            f"::: {name}",
            "    options:",
            "      heading_level: 3",
            "      show_root_heading: false",
            "",
        ]
    return "\n".join(out)


def source_page(path: Path, rel: str) -> str:
    text = path.read_text(encoding="utf-8")
    fence = "````" if "```" in text else "```"
    return f'# `{rel}`\n\n{fence}python linenums="1"\n{text}\n{fence}\n'


def notebook_page(path: Path) -> str:
    """Markdown cells as text, code cells as python blocks, from the percent format's `# %%` markers."""
    cells, kind, lines = [], None, []
    text = path.read_text(encoding="utf-8")
    body = text.split("# ---\n", 2)[-1] if text.startswith("# ---") else text
    for line in body.splitlines():
        if line.startswith("# %%"):
            cells.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        else:
            lines.append(line)
    cells.append((kind, lines))
    rel = path.relative_to(ROOT).as_posix()
    out = [
        f'!!! note "Run it"\n    This page is `{rel}`: open it in Jupyter with `make notebooks`, or run it with `make test-notebooks`.\n'
    ]
    for kind, lines in cells:
        block = "\n".join(lines).strip("\n")
        if not block or kind is None:
            continue
        if kind == "markdown":
            out.append("\n".join(re.sub(r"^# ?", "", ln) for ln in block.splitlines()))
        else:
            out.append(f"```python\n{block}\n```")
    page = "\n\n".join(out) + "\n"
    return page.replace("](../docs/", "](../")


def dashboard() -> str:
    results = Path(os.environ.get("GROUNDUP_RESULTS") or ROOT / ".groundup" / "test-results.json")
    if results.is_file():
        from groundup.curriculum import progress as prog
        from groundup.curriculum.results import read_results

        header, checks = read_results(results)
        return prog.render_markdown(prog.module_progress(checks), header) + "\n"
    committed = (ROOT / "docs" / "PROGRESS.md").read_text(encoding="utf-8")
    note = '!!! info "From the committed dashboard"\n    No local test results: run `make test` and rebuild to see yours.\n\n'
    title, _, rest = committed.partition("\n")
    return f"{title}\n\n{note}{rest}"


def on_page_markdown(markdown, page, config, files):
    """File pointers in a note become links to their source pages."""
    if page.file.src_uri.startswith(("source/", "api/")):
        return markdown
    here = posixpath.dirname(page.file.src_uri)

    def link(match):
        rel = match.group(1)
        rel = rel if rel.startswith("src/") else "src/" + rel
        if not (ROOT / rel).is_file():
            return match.group(0)
        target = posixpath.relpath(f"source/{rel[:-3]}.md", here or ".")
        return f"[`{match.group(1)}`]({target})"

    return fenced_safe(markdown, lambda text: POINTER.sub(link, text))


def fenced_safe(markdown: str, change) -> str:
    """Apply `change` outside fenced and indented code blocks."""
    parts = re.split(r"(^```.*?^```[ \t]*$)", markdown, flags=re.S | re.M)
    return "".join(part if i % 2 else change(part) for i, part in enumerate(parts))


TRACKS = {"0": "Foundations", "1": "Miniaturization", "2": "Serving", "3": "Applications"}


def on_config(config):
    """The navigation, built from what is on disk: a note added under docs/notes/ appears in its track."""
    notes: dict[str, list[str]] = {title: [] for title in TRACKS.values()}
    other = []
    for path in sorted((ROOT / "docs" / "notes").glob("*.md"), key=note_order):
        track = TRACKS.get(path.name.split(".", 1)[0])
        (notes[track] if track and path.name[0].isdigit() else other).append(f"notes/{path.name}")
    notebooks = [f"notebooks/{p.stem}.md" for p in sorted((ROOT / "notebooks").glob("[0-9]*.py"))]
    config["nav"] = [
        {"Home": "index.md"},
        {"Notebooks": ["notebooks.md", *notebooks]},
        {"The lab": "lab.md"},
        {"Progress": "dashboard.md"},
        {"Notes": [{title: pages} for title, pages in notes.items() if pages] + other},
        {"Design": ["ARCHITECTURE.md", "DEVELOPING.md", "inference-stack.md"]},
        {"API reference": [{f"groundup.{area}": f"api/{area}.md"} for area in areas()]},
    ]
    return config


def note_order(path: Path):
    """0.2 before 0.10, and notes without a module id last."""
    head = path.name.split("-", 1)[0]
    try:
        major, minor = head.split(".")
        return (0, int(major), int(minor), path.name)
    except ValueError:
        return (1, 0, 0, path.name)
