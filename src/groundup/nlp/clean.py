"""Text cleaning and normalisation: the first stage of a classic NLP pipeline.

`Cleaner` is a fixed sequence of small, optional steps, each a pure function of the text:

    html      unescape entities (&amp; -> &) and drop tags (<br /> -> space)
    unicode   NFKC: compatibility forms folded (ﬁ -> fi, ² -> 2, full-width -> ASCII)
    accents   NFD then drop combining marks (café -> cafe)
    urls      URLs, @mentions and e-mail addresses replaced by placeholders (or removed)
    lower     lowercase (casefold: straße -> strasse)
    numbers   every digit run -> "0" (counts of 1999 and 2001 become counts of one token)
    punct     punctuation -> space
    spaces    whitespace runs -> one space, trimmed

`words(text)` splits into word tokens with scikit-learn's default pattern (runs of two or more word
characters), and `remove_stopwords` drops a small English function-word list. WikiText helpers cut
the corpus into articles (`= Title =` headings) and sentences for the pretraining and word2vec runs.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's CountVectorizer default
_TOKEN = re.compile(TOKEN_PATTERN)
_TAG = re.compile(r"<[^>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")

# Function words that carry little topic information (our own short list; extend per task).
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves""".split()
)


@dataclass
class Cleaner:
    """A normalisation pipeline; each flag switches one step of the module docstring on or off.

    >>> Cleaner()("Visit https://x.io &amp; say <b>HÉLLO</b> to @bob in 2024!!")
    'visit url say hello to user in 0'
    """

    html: bool = True
    unicode: bool = True
    accents: bool = True
    urls: str | None = "placeholder"  # "placeholder", "remove" or None (keep)
    lower: bool = True
    numbers: bool = True
    punct: bool = True
    spaces: bool = True

    def __post_init__(self):
        if self.urls not in ("placeholder", "remove", None):
            raise ValueError(f"urls must be 'placeholder', 'remove' or None, got {self.urls!r}")

    def __call__(self, text: str) -> str:
        if self.html:
            text = _TAG.sub(" ", html.unescape(text))
        if self.unicode:
            text = unicodedata.normalize("NFKC", text)
        if self.accents:
            text = strip_accents(text)
        if self.urls:
            keep = self.urls == "placeholder"
            text = _URL.sub(" URL " if keep else " ", text)
            text = _EMAIL.sub(" EMAIL " if keep else " ", text)
            text = _MENTION.sub(" USER " if keep else " ", text)
        if self.lower:
            text = text.casefold()
        if self.numbers:
            text = _DIGITS.sub("0", text)
        if self.punct:
            text = _PUNCT.sub(" ", text)
        if self.spaces:
            text = _SPACES.sub(" ", text).strip()
        return text


def strip_accents(text: str) -> str:
    """Decompose (NFD) and drop the combining marks: 'Ångström' -> 'Angstrom'."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def words(text: str, pattern: str = TOKEN_PATTERN) -> list[str]:
    """Word tokens: every match of `pattern` (default: two or more word characters, as scikit-learn)."""
    return _TOKEN.findall(text) if pattern == TOKEN_PATTERN else re.findall(pattern, text)


def remove_stopwords(tokens: list[str], stopwords: frozenset[str] = STOPWORDS) -> list[str]:
    return [t for t in tokens if t.lower() not in stopwords]


_HEADING = re.compile(r"^ = [^=].* = $")


def wikitext_articles(text: str) -> list[str]:
    """WikiText's articles: each starts at a top-level ' = Title = ' line (sub-headings ' = = ...' stay
    inside). Returns the article bodies, headings removed, paragraphs joined by newlines."""
    articles: list[list[str]] = []
    for line in text.splitlines():
        if _HEADING.match(line):
            articles.append([])
        elif articles and line.strip() and not line.lstrip().startswith("= "):
            articles[-1].append(line.strip())
    return ["\n".join(a) for a in articles if a]


def sentences(text: str) -> list[str]:
    """Sentences of tokenised text such as WikiText's: a break after ' . ', ' ! ' or ' ? ' and at
    every newline; empty pieces dropped."""
    out = []
    for paragraph in text.splitlines():
        for piece in re.split(r"(?<= [.!?]) ", paragraph):
            if piece.strip():
                out.append(piece.strip())
    return out
