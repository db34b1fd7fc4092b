"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling, in NumPy.

Every word w has an input vector v_w (the embedding) and an output vector u_w. Skip-gram makes the
centre word predict each word of its window; CBOW makes the mean of the window predict the centre.
Instead of a softmax over the vocabulary, negative sampling scores the true pair against k "noise"
words drawn from the unigram distribution raised to 3/4:

    loss = -ln σ(u_o · h) - Σ_{i=1..k} ln σ(-u_{n_i} · h),    h = v_c (skip-gram) or mean v_context (CBOW)

Details as in the original C code (and gensim): the window of each centre word is drawn uniformly
from 1..window (near words count more); frequent words are dropped with probability
1 - (sqrt(f / (s·N)) + 1) · s·N / f (f its count, N the corpus size, s = `sample`); the learning rate
falls linearly from `lr` to `min_lr`; vectors start uniform in ±0.5/dim, output vectors at zero.

One difference, for speed in NumPy: updates are applied in mini-batches of pairs (all gradients of
a batch computed from the same weights, then scattered with `np.add.at`) instead of one pair at a time.
A row that appears many times in one batch gets the sum of its updates computed from stale weights, so
a tiny vocabulary needs a small `batch_size` (a 17-word toy corpus diverges at 512 centres, trains at 32).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

MODES = ("skipgram", "cbow")


@dataclass
class Word2VecConfig:
    """Hyper-parameters, named like gensim's `Word2Vec` where they have a counterpart."""

    dim: int = 100  # gensim vector_size
    window: int = 5
    negative: int = 5
    min_count: int = 5
    sample: float = 1e-3
    epochs: int = 5
    lr: float = 0.025  # gensim alpha (CBOW in gensim defaults to the same 0.025)
    min_lr: float = 1e-4  # gensim min_alpha
    mode: str = "skipgram"  # gensim sg=1; "cbow" is sg=0
    batch_size: int = 512
    seed: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if min(self.dim, self.window, self.epochs, self.batch_size, self.min_count) < 1 or self.negative < 1:
            raise ValueError("dim, window, negative, epochs, batch_size and min_count must be >= 1")


class Word2Vec:
    """Train with `Word2Vec(cfg).fit(sentences)`; then `vectors`, `most_similar`, `similarity`, `analogy`."""

    def __init__(self, cfg: Word2VecConfig | None = None):
        self.cfg = cfg or Word2VecConfig()

    # ---- vocabulary ----------------------------------------------------------------------------------

    def build_vocab(self, sentences: Sequence[Sequence[str]]) -> None:
        counts = Counter(w for s in sentences for w in s)
        kept = sorted(
            (w for w, c in counts.items() if c >= self.cfg.min_count), key=lambda w: (-counts[w], w)
        )
        if not kept:
            raise ValueError(f"no word occurs min_count={self.cfg.min_count} times: lower min_count")
        self.words = kept
        self.index = {w: i for i, w in enumerate(kept)}
        self.counts = np.array([counts[w] for w in kept], dtype=np.int64)
        noise = self.counts.astype(np.float64) ** 0.75
        self.noise_cdf = np.cumsum(noise / noise.sum())
        self.keep_prob = np.ones(len(kept))
        if self.cfg.sample > 0:
            freq = self.counts / (self.cfg.sample * self.counts.sum())
            self.keep_prob = np.minimum(1.0, (np.sqrt(freq) + 1) / freq)

    # ---- training --------------------------------------------------------------------------------------

    def fit(
        self, sentences: Sequence[Sequence[str]], log: Callable[[int, float], None] | None = None
    ) -> Word2Vec:
        """Build the vocabulary and train `epochs` passes; `log(epoch, mean loss)` after each."""
        cfg = self.cfg
        self.build_vocab(sentences)
        rng = np.random.default_rng(cfg.seed)
        V, d = len(self.words), cfg.dim
        self.vectors = ((rng.random((V, d)) - 0.5) / d).astype(np.float32)  # v: the embeddings
        self.output = np.zeros((V, d), dtype=np.float32)  # u
        ids = [np.array([self.index[w] for w in s if w in self.index], dtype=np.int64) for s in sentences]
        corpus = np.concatenate(ids)
        sentence_of = np.repeat(np.arange(len(ids)), [len(s) for s in ids])
        planned, done = cfg.epochs * len(corpus), 0
        for epoch in range(cfg.epochs):
            keep = rng.random(len(corpus)) < self.keep_prob[corpus]  # subsampling, fresh every epoch
            tokens, sents = corpus[keep], sentence_of[keep]
            losses = []
            for start in range(0, len(tokens), cfg.batch_size):
                lr = cfg.lr - (cfg.lr - cfg.min_lr) * (done + start) / planned
                step = self._skipgram_step if cfg.mode == "skipgram" else self._cbow_step
                loss = step(
                    tokens, sents, start, min(start + cfg.batch_size, len(tokens)), max(lr, cfg.min_lr), rng
                )
                if loss is not None:
                    losses.append(loss)
            done += len(corpus)
            if log is not None:
                log(epoch, float(np.mean(losses)) if losses else float("nan"))
        return self

    def _windows(self, tokens, sents, lo, hi, rng) -> tuple[np.ndarray, np.ndarray]:
        """(centre positions (P,), context positions (P,)) of every pair whose centre is in [lo, hi):
        the reduced window b ~ U{1..window} per centre, both sides, inside the centre's sentence."""
        centres = np.arange(lo, hi)
        reach = rng.integers(1, self.cfg.window + 1, size=len(centres))
        cs, os_ = [], []
        for offset in range(1, self.cfg.window + 1):
            near = centres[reach >= offset]
            for ctx in (near - offset, near + offset):
                ok = (ctx >= 0) & (ctx < len(tokens))
                c, o = near[ok], ctx[ok]
                same = sents[c] == sents[o]
                cs.append(c[same])
                os_.append(o[same])
        return np.concatenate(cs), np.concatenate(os_)

    def _negatives(self, shape, rng) -> np.ndarray:
        return np.minimum(np.searchsorted(self.noise_cdf, rng.random(shape)), len(self.words) - 1)

    def _update(self, h: np.ndarray, targets: np.ndarray, lr: float) -> tuple[np.ndarray, float]:
        """Negative-sampling step for hidden vectors h (B, d) and targets (B, 1+k) (true word first).
        Updates the output vectors in place; returns the gradient step for h and the mean loss."""
        u = self.output[targets]  # (B, 1+k, d)
        score = np.einsum("bd,bkd->bk", h, u)  # (B, 1+k)
        label = np.zeros_like(score)
        label[:, 0] = 1.0
        sig = 1.0 / (1.0 + np.exp(-np.clip(score, -30, 30)))
        g = (label - sig) * lr  # (B, 1+k): gradient ascent on the log-likelihood
        dh = np.einsum("bk,bkd->bd", g, u)  # (B, d)
        np.add.at(self.output, targets, (g[..., None] * h[:, None, :]).astype(np.float32))
        loss = -np.log(np.where(label > 0, sig, 1 - sig) + 1e-12).sum(1).mean()
        return dh, float(loss)

    def _skipgram_step(self, tokens, sents, lo, hi, lr, rng):
        c, o = self._windows(tokens, sents, lo, hi, rng)
        if len(c) == 0:
            return None
        centre, context = tokens[c], tokens[o]
        targets = np.concatenate(
            [context[:, None], self._negatives((len(c), self.cfg.negative), rng)], axis=1
        )
        dh, loss = self._update(self.vectors[centre], targets, lr)
        np.add.at(self.vectors, centre, dh.astype(np.float32))
        return loss

    def _cbow_step(self, tokens, sents, lo, hi, lr, rng):
        c, o = self._windows(tokens, sents, lo, hi, rng)
        if len(c) == 0:
            return None
        n = hi - lo
        counts = np.bincount(c - lo, minlength=n)  # context words per centre
        has = counts > 0
        h = np.zeros((n, self.cfg.dim), dtype=np.float64)
        np.add.at(h, c - lo, self.vectors[tokens[o]])
        h = h[has] / counts[has, None]  # (B', d): mean of the window
        centre = tokens[lo:hi][has]
        targets = np.concatenate(
            [centre[:, None], self._negatives((len(centre), self.cfg.negative), rng)], axis=1
        )
        dh, loss = self._update(h.astype(np.float32), targets, lr)
        row = np.full(n, -1)
        row[has] = np.arange(has.sum())
        np.add.at(self.vectors, tokens[o], dh[row[c - lo]].astype(np.float32))  # each context word gets it
        return loss

    # ---- queries --------------------------------------------------------------------------------------

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        if word not in self.index:
            raise KeyError(
                f"{word!r} is not in the vocabulary ({len(self.words)} words, min_count={self.cfg.min_count})"
            )
        return self.vectors[self.index[word]]

    def unit_vectors(self) -> np.ndarray:
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return self.vectors / np.maximum(norms, 1e-12)

    def similarity(self, a: str, b: str) -> float:
        va, vb = self[a], self[b]
        return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-12))

    def most_similar(
        self, positive: Sequence[str], negative: Sequence[str] = (), topn: int = 10
    ) -> list[tuple[str, float]]:
        """Words nearest (cosine) to the sum of the positive unit vectors minus the negative ones (as
        gensim), the query words excluded."""
        if isinstance(positive, str):
            positive = [positive]
        for w in (*positive, *negative):
            self[w]  # noqa: B018 -- a KeyError naming the word
        unit = self.unit_vectors()
        query = sum(unit[self.index[w]] for w in positive) - sum((unit[self.index[w]] for w in negative), 0)
        query = query / max(np.linalg.norm(query), 1e-12)
        scores = unit @ query
        scores[[self.index[w] for w in (*positive, *negative)]] = -np.inf
        best = np.argsort(-scores)[:topn]
        return [(self.words[i], float(scores[i])) for i in best]

    def analogy(self, a: str, b: str, c: str) -> str:
        """The word x with a : b = c : x, i.e. nearest to b - a + c (king - man + woman -> queen)."""
        return self.most_similar([b, c], [a], topn=1)[0][0]
