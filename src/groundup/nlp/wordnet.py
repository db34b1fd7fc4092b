"""WordNet's `morphy` lemmatizer over the WordNet database files: the reference the rule-based
`Lemmatizer` simplifies.

The WordNet 3.0 database (wordnet.princeton.edu, also NLTK's `wordnet` data package) keeps, per part of
speech (noun, verb, adj, adv):

    index.<pos>   one line per lemma:  lemma pos synset_cnt p_cnt [ptr...] sense_cnt tagsense_cnt offset...
                  (license lines at the top start with two spaces)
    <pos>.exc     one line per irregular form:  inflected base [base...]   (mice mouse, went go)

`morphy(word, pos)` takes the exception's bases if the word is listed, otherwise one round of the
detachment rules (dogs -> dog, churches -> church, stopped -> stop/stope), adds the word itself, and keeps
the candidates that are lemmas of that part of speech in the index. A lemmatizer returns the shortest
kept candidate (the first among equals), or the word unchanged when none is kept: what NLTK's
`WordNetLemmatizer.lemmatize` does, and what tests/nlp/test_wordnet.py checks against it.
"""

from __future__ import annotations

from pathlib import Path

from groundup.errors import GroundupError

FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
RULES = {
    "n": [("s", ""), ("ses", "s"), ("ves", "f"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
          ("men", "man"), ("ies", "y")],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"),
          ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}  # fmt: skip


def read_index(path: Path) -> set[str]:
    """The lemmas of one index.<pos> file (its first field; license lines start with a space)."""
    return {line.split(" ", 1)[0] for line in path.read_text().splitlines() if line and line[0] != " "}


def read_exceptions(path: Path) -> dict[str, list[str]]:
    """inflected form -> its base forms, from one <pos>.exc file."""
    out = {}
    for line in path.read_text().splitlines():
        if fields := line.split():
            out[fields[0]] = fields[1:]
    return out


class WordNet:
    """The lemma index and exception lists of a WordNet database folder, and `morphy` over them."""

    def __init__(self, lemmas: dict[str, set[str]], exceptions: dict[str, dict[str, list[str]]]):
        self.lemmas = lemmas  # pos -> lemmas (underscores for spaces: ice_cream)
        self.exceptions = exceptions  # pos -> inflected form -> bases

    @classmethod
    def load(cls, root: str | Path) -> WordNet:
        root = Path(root)
        missing = [f"index.{n}" for n in FILES.values() if not (root / f"index.{n}").is_file()]
        if missing:
            raise GroundupError(
                f"{root} is not a WordNet database folder: {', '.join(missing)} missing; point at the "
                "folder holding index.noun, index.verb, index.adj, index.adv and the .exc files "
                "(WordNet 3.0 'dict/', or nltk_data/corpora/wordnet)"
            )
        lemmas = {pos: read_index(root / f"index.{name}") for pos, name in FILES.items()}
        exceptions = {
            pos: read_exceptions(root / f"{name}.exc") if (root / f"{name}.exc").is_file() else {}
            for pos, name in FILES.items()
        }
        return cls(lemmas, exceptions)

    def morphy(self, word: str, pos: str = "n") -> list[str]:
        """Every candidate base form of `word` that WordNet lists as a lemma of `pos`, in rule order."""
        if pos not in FILES:
            raise ValueError(
                f"pos must be one of {', '.join(FILES)} (noun, verb, adjective, adverb), got {pos!r}"
            )
        if word in self.exceptions[pos]:
            forms = self.exceptions[pos][word]
        else:
            forms = [word[: -len(old)] + new for old, new in RULES[pos] if word.endswith(old)]
        return list(dict.fromkeys(f for f in [word, *forms] if f in self.lemmas[pos]))

    def lemmatize(self, word: str, pos: str = "n") -> str:
        """The shortest lemma `morphy` finds (the first among equals), else the word unchanged."""
        return min(self.morphy(word, pos), key=len, default=word)
