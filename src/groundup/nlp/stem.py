"""The Porter stemmer (Porter 1980, "An algorithm for suffix stripping"), identical to NLTK's.

A word is read as consonant/vowel runs, [C](VC)^m[V], and m, its *measure*, guards each rule: a
suffix is only removed when enough of the word would remain. Five steps strip suffixes in order:

    1a  plurals            caresses -> caress, ponies -> poni, cats -> cat
    1b  -ed / -ing         agreed -> agree, motoring -> motor, hopping -> hop, filing -> file
    1c  y -> i             happy -> happi
    2   double suffixes    relational -> relate, hopefulness -> hopeful      (m > 0)
    3   -ic-, -ful, -ness  electrical -> electric, goodness -> good          (m > 0)
    4   single suffixes    allowance -> allow, adoption -> adopt            (m > 1)
    5   tidy up            probate -> probat, controll -> control

Within a step the rules are tried in the paper's order and the *first suffix that matches* decides:
if its condition fails the word is left as it is (no later, shorter suffix is tried).

Two modes, named as NLTK names them. "nltk" (NLTK_EXTENSIONS, NLTK's default) adds: a few irregular
forms (dying -> die, skies -> sky, news, innings ...), words of one or two letters left alone, "ies"
and "ied" in four-letter words -> "ie", "ied" -> "i", y -> i only after a consonant that is not the
whole stem (enjoy stays), -alli handled first, -bli -> -ble (instead of -abli -> -able), -fulli and
-logi, and a two-letter stem vowel+consonant counted as *o. "original" is the 1980 paper as written.
Both are checked against `nltk.stem.PorterStemmer` on every distinct word of WikiText-2. Stems of
a long text repeat, so results are cached per word.
"""

from __future__ import annotations

from functools import lru_cache

MODES = ("nltk", "original")
VOWELS = frozenset("aeiou")
IRREGULAR = {
    "skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
    "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
    "cannings": "canning", "canning": "canning", "howe": "howe", "proceed": "proceed",
    "exceed": "exceed", "succeed": "succeed",
}  # fmt: skip

STEP2 = [
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("abli", "able"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
]  # fmt: skip
STEP3 = [
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
]
STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
         "ism", "ate", "iti", "ous", "ive", "ize"]  # fmt: skip


def consonants(word: str) -> list[bool]:
    """True where word[i] is a consonant: not a vowel, and a 'y' only after a vowel (or first)."""
    flags: list[bool] = []
    for i, c in enumerate(word):
        flags.append(c not in VOWELS and (c != "y" or i == 0 or not flags[i - 1]))
    return flags


def measure(stem: str) -> int:
    """m in [C](VC)^m[V]: the number of vowel-run -> consonant-run transitions."""
    flags = consonants(stem)
    return sum(1 for a, b in zip(flags, flags[1:]) if not a and b)


def has_vowel(stem: str) -> bool:
    return not all(consonants(stem))


def ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and consonants(word)[-1]


class PorterStemmer:
    """`stem(word)`: lowercased, then the five steps of the module docstring.

    >>> [PorterStemmer().stem(w) for w in ["caresses", "relational", "hopping", "generously"]]
    ['caress', 'relat', 'hop', 'gener']
    """

    def __init__(self, mode: str = "nltk", cache_size: int | None = 2**16):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.mode = mode
        self.nltk = mode == "nltk"
        self.stem = lru_cache(maxsize=cache_size)(self._stem) if cache_size else self._stem

    def _stem(self, word: str) -> str:
        word = word.lower()
        if self.nltk:
            if word in IRREGULAR:
                return IRREGULAR[word]
            if len(word) <= 2:
                return word
        for step in (self.step1a, self.step1b, self.step1c, self.step2, self.step3, self.step4):
            word = step(word)
        return self.step5(word)

    def ends_cvc(self, word: str) -> bool:
        """*o: the word ends consonant-vowel-consonant, the last not w, x or y."""
        flags = consonants(word)
        if len(word) >= 3 and flags[-3] and not flags[-2] and flags[-1] and word[-1] not in "wxy":
            return True
        return self.nltk and len(word) == 2 and not flags[0] and flags[1]

    @staticmethod
    def first_rule(word: str, rules, condition) -> str:
        """Apply the first rule whose suffix matches, if condition(stem) holds; else leave the word."""
        for suffix, replacement in rules:
            if word.endswith(suffix):
                stem = word[: len(word) - len(suffix)]
                return stem + replacement if condition(stem) else word
        return word

    def step1a(self, word: str) -> str:
        if self.nltk and len(word) == 4 and word.endswith("ies"):
            return word[:-3] + "ie"
        return self.first_rule(word, [("sses", "ss"), ("ies", "i"), ("ss", "ss"), ("s", "")], lambda s: True)

    def step1b(self, word: str) -> str:
        if self.nltk and word.endswith("ied"):
            return word[:-3] + ("ie" if len(word) == 4 else "i")
        if word.endswith("eed"):
            return word[:-1] if measure(word[:-3]) > 0 else word
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and has_vowel(word[: -len(suffix)]):
                return self.after_ed_ing(word[: -len(suffix)])
        return word

    def after_ed_ing(self, stem: str) -> str:
        """at -> ate, bl -> ble, iz -> ize; a double consonant loses one letter (not l, s, z);
        a short m = 1 *o stem gets its e back (fil -> file)."""
        for suffix in ("at", "bl", "iz"):
            if stem.endswith(suffix):
                return stem + "e"
        if ends_double_consonant(stem):
            return stem if stem[-1] in "lsz" else stem[:-1]
        return stem + "e" if measure(stem) == 1 and self.ends_cvc(stem) else stem

    def step1c(self, word: str) -> str:
        if not word.endswith("y"):
            return word
        stem = word[:-1]
        if self.nltk:
            ok = len(stem) > 1 and consonants(stem)[-1]
        else:
            ok = has_vowel(stem)
        return stem + "i" if ok else word

    def step2(self, word: str) -> str:
        positive = lambda stem: measure(stem) > 0  # noqa: E731
        if not self.nltk:
            return self.first_rule(word, STEP2, positive)
        if word.endswith("alli") and positive(word[:-4]):
            return self.step2(word[:-4] + "al")
        rules = [("bli", "ble") if r == ("abli", "able") else r for r in STEP2] + [("fulli", "ful")]
        out = self.first_rule(word, rules, positive)
        if out == word and word.endswith("logi") and not any(word.endswith(s) for s, _ in rules):
            return word[:-1] if positive(word[:-3]) else word
        return out

    def step3(self, word: str) -> str:
        return self.first_rule(word, STEP3, lambda stem: measure(stem) > 0)

    def step4(self, word: str) -> str:
        for suffix in STEP4:
            if word.endswith(suffix):
                stem = word[: -len(suffix)]
                ok = measure(stem) > 1 and (suffix != "ion" or stem[-1:] in ("s", "t"))
                return stem if ok else word
        return word

    def step5(self, word: str) -> str:
        """5a: drop a final e when m > 1, or m = 1 and not *o; 5b: -ll -> -l when m > 1."""
        if word.endswith("e"):
            m = measure(word[:-1])
            if m > 1 or (m == 1 and not self.ends_cvc(word[:-1])):
                word = word[:-1]
        if word.endswith("ll") and measure(word[:-1]) > 1:
            word = word[:-1]
        return word
