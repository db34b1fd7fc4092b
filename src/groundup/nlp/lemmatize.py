"""A rule-based lemmatizer: irregular forms from a table, regular ones by suffix rules checked
against a vocabulary.

A stemmer cuts (studies -> studi); a lemmatizer returns a dictionary form (studies -> study). WordNet's
`morphy` does it with detachment rules whose candidates must exist in WordNet. We keep the rules
and replace WordNet by any vocabulary you pass (e.g. every word of a corpus):

    noun  -ses -> -s, -xes -> -x, -zes -> -z, -ches -> -ch, -shes -> -sh, -men -> -man, -ies -> -y, -s -> ''
    verb  -ies -> -y, -es -> -e, -es -> '', -ed -> -e, -ed -> '', -ing -> -e, -ing -> '', -s -> ''
          and a doubled final consonant undone (stopped -> stop, running -> run)
    adj   -est -> '', -est -> -e, -er -> '', -er -> -e   (-iest/-ier -> -y)

The first candidate found in the vocabulary wins; without a vocabulary the first rule that applies
wins. Irregular forms (went -> go, mice -> mouse, better -> good) come from a short table.

Limits, by design: no part-of-speech tagging (the caller says noun/verb/adjective; default noun),
no context ("saw" the verb vs the tool), no derivational morphology (happiness stays), the irregular
table covers common English only, and a vocabulary that holds a wrong candidate lets it through
("bus" + -es -> "bu" would win if "bu" were in it: rules are tried most specific first to limit that).
"""

from __future__ import annotations

from groundup.nlp.stem import ends_double_consonant, measure


def _cvc(stem: str) -> bool:
    """Consonant-vowel-consonant ending, the last not w, x or y (Porter's *o)."""
    v = [c in "aeiou" for c in stem[-3:]]
    return v == [False, True, False] and stem[-1] not in "wxy"


POS = ("n", "v", "a")
RULES = {
    "n": [("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"),
          ("ies", "y"), ("s", "")],
    "v": [("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", ""),
          ("s", "")],
    "a": [("iest", "y"), ("ier", "y"), ("est", ""), ("est", "e"), ("er", ""), ("er", "e")],
}  # fmt: skip
IRREGULAR = {
    "n": {"children": "child", "men": "man", "women": "woman", "mice": "mouse", "geese": "goose",
          "feet": "foot", "teeth": "tooth", "people": "person", "oxen": "ox", "data": "datum",
          "criteria": "criterion", "phenomena": "phenomenon", "analyses": "analysis", "wives": "wife",
          "knives": "knife", "lives": "life", "leaves": "leaf", "wolves": "wolf", "halves": "half"},
    "v": {"am": "be", "is": "be", "are": "be", "was": "be", "were": "be", "been": "be", "being": "be",
          "has": "have", "had": "have", "did": "do", "does": "do", "done": "do", "went": "go", "gone": "go",
          "saw": "see", "seen": "see", "took": "take", "taken": "take", "made": "make", "said": "say",
          "got": "get", "gotten": "get", "came": "come", "knew": "know", "known": "know", "thought": "think",
          "gave": "give", "given": "give", "found": "find", "told": "tell", "became": "become", "left": "leave",
          "felt": "feel", "brought": "bring", "began": "begin", "begun": "begin", "kept": "keep",
          "held": "hold", "wrote": "write", "written": "write", "stood": "stand", "heard": "hear",
          "ran": "run", "met": "meet", "paid": "pay", "sat": "sit", "spoke": "speak", "spoken": "speak",
          "led": "lead", "grew": "grow", "grown": "grow", "lost": "lose", "fell": "fall", "fallen": "fall",
          "sent": "send", "built": "build", "won": "win", "ate": "eat", "eaten": "eat", "died": "die",
          "dying": "die", "lying": "lie", "lay": "lie", "taught": "teach", "bought": "buy", "fought": "fight",
          "caught": "catch", "sought": "seek", "drove": "drive", "driven": "drive", "chose": "choose",
          "chosen": "choose", "broke": "break", "broken": "break", "flew": "fly", "flown": "fly"},
    "a": {"better": "good", "best": "good", "worse": "bad", "worst": "bad", "more": "many",
          "most": "many", "less": "little", "least": "little", "further": "far", "farther": "far"},
}  # fmt: skip


class Lemmatizer:
    """`lemmatize(word, pos="n")`: the dictionary form of a lowercase word (see the module limits)."""

    def __init__(self, vocabulary: set[str] | frozenset[str] | None = None):
        self.vocabulary = vocabulary

    def known(self, word: str) -> bool:
        return self.vocabulary is None or word in self.vocabulary

    def lemmatize(self, word: str, pos: str = "n") -> str:
        if pos not in POS:
            raise ValueError(f"pos must be one of {', '.join(POS)} (noun, verb, adjective), got {pos!r}")
        word = word.lower()
        if word in IRREGULAR[pos]:
            return IRREGULAR[pos][word]
        if pos == "n" and word.endswith(("ss", "us", "is")):  # glass, bus, analysis: not plurals
            return word
        if self.vocabulary is None:
            return self.guess(word, pos)
        for candidate in self.candidates(word, pos):
            if candidate in self.vocabulary:
                return candidate
        return word

    @staticmethod
    def guess(word: str, pos: str) -> str:
        """Without a vocabulary: the first matching suffix, then Porter's repair of the stem (a doubled
        consonant undone, an e restored after a short consonant-vowel-consonant stem: mak -> make)."""
        for suffix, replacement in RULES[pos]:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                stem = word[: len(word) - len(suffix)]
                if replacement not in ("", "e") or pos == "n":
                    return stem + replacement
                if ends_double_consonant(stem) and stem[-1] not in "lsz":
                    return stem[:-1]
                short = len(stem) >= 3 and measure(stem) == 1 and _cvc(stem)
                return stem + "e" if short else stem
        return word

    @staticmethod
    def candidates(word: str, pos: str) -> list[str]:
        """Every rule's result in rule order; verbs also try undoing a doubled consonant (stopp -> stop)."""
        out = []
        for suffix, replacement in RULES[pos]:
            if word.endswith(suffix) and len(word) - len(suffix) >= 2:
                stem = word[: len(word) - len(suffix)]
                if (
                    pos in "va"
                    and replacement == ""
                    and len(stem) >= 3
                    and stem[-1] == stem[-2]
                    and stem[-1] not in "aeiouls"
                ):
                    out.append(stem[:-1])
                out.append(stem + replacement)
        return out
