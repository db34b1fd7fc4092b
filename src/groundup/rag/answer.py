"""Grounded answers: SmolLM2 reads the retrieved chunks, each labelled with its id, answers only from
them citing ids in brackets, and says it cannot answer when they do not hold the answer. HyDE
(Gao et al., 2022): the model first writes a hypothetical passage answering the question, and that
passage's embedding is the query (a passage looks more like passages than a question does).

A 135M-parameter model often answers correctly without writing the bracketed id. Then the answer is
attributed after the fact: the context chunk holding the largest share of the answer's words (at least
half) is cited, and `Answer.attributed` says the citation was not written by the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from groundup.rag.chunk import Chunk

REFUSAL = "I cannot answer that from the indexed documents."
SYSTEM = (
    "You answer questions using only the numbered context passages. Cite the passages you used by their "
    "id in square brackets, like [doc.txt#0]. If the passages do not contain the answer, reply exactly: "
    + REFUSAL
)
CITATION = re.compile(r"\[([^\[\]]+#\d+)\]")
WORD = re.compile(r"\w+")


@dataclass
class Answer:
    text: str
    citations: list[str]  # the chunk ids cited in the text that were in the context
    context: list[Chunk] = field(default_factory=list)
    attributed: bool = False  # citations found by word overlap, not written by the model

    @property
    def refused(self) -> bool:
        return REFUSAL.lower().rstrip(".") in self.text.lower()


def context_block(chunks: list[Chunk], max_chars: int = 1500) -> str:
    return "\n\n".join(f"[{c.id}] {c.text[:max_chars]}" for c in chunks)


def messages(question: str, chunks: list[Chunk]) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Context:\n{context_block(chunks)}\n\nQuestion: {question}"},
    ]


def citations(text: str, chunks: list[Chunk]) -> list[str]:
    """Chunk ids cited in `text` that were among the context chunks, in order of first citation."""
    known = {c.id for c in chunks}
    return list(dict.fromkeys(m for m in CITATION.findall(text) if m in known))


class Generator:
    """SmolLM2 (or any chat GGUF) behind `stream_chat(messages)` -> text pieces; loads on first use."""

    def __init__(self, path=None, max_tokens: int = 200, seed: int = 0):
        self.path, self.max_tokens, self.seed = path, max_tokens, seed
        self.model = self.tokenizer = None

    def stream_chat(self, msgs: list[dict], max_tokens: int | None = None) -> Iterator[str]:
        from groundup.generate import render_chat, stream
        from groundup.generate.loading import load_model
        from groundup.generate.sampling import SamplingParams

        if self.model is None:
            self.model, self.tokenizer = load_model(self.path)
        prompt = self.tokenizer.encode(render_chat(self.tokenizer.chat_template, msgs))
        params = SamplingParams(temperature=0.0, max_tokens=max_tokens or self.max_tokens, seed=self.seed)
        for event in stream(self.model, prompt, params, self.tokenizer, truncate=True):
            yield event.text


def answer_stream(question: str, chunks: list[Chunk], generator: Generator) -> Iterator[str]:
    yield from generator.stream_chat(messages(question, chunks))


def attribute(text: str, chunks: list[Chunk], min_share: float = 0.5) -> list[str]:
    """The id of the chunk holding the largest share (>= min_share) of the answer's words, if any."""
    words = set(WORD.findall(text.lower()))
    if not words or not chunks:
        return []
    shares = [len(words & set(WORD.findall(c.text.lower()))) / len(words) for c in chunks]
    best = max(range(len(chunks)), key=shares.__getitem__)
    return [chunks[best].id] if shares[best] >= min_share else []


def grounded(text: str, chunks: list[Chunk]) -> Answer:
    """The Answer for a generated text: its own citations, else attributed ones (unless it refused)."""
    text = text.strip()
    reply = Answer(text, citations(text, chunks), chunks)
    if not reply.citations and not reply.refused:
        reply.citations, reply.attributed = attribute(text, chunks), True
    return reply


def answer(question: str, chunks: list[Chunk], generator: Generator) -> Answer:
    return grounded("".join(answer_stream(question, chunks, generator)), chunks)


def hypothetical_passage(question: str, generator: Generator, max_tokens: int = 80) -> str:
    """HyDE's passage: the model's own short encyclopedia-style answer, right or wrong."""
    msgs = [
        {"role": "system", "content": "Write one short encyclopedia paragraph that answers the question."},
        {"role": "user", "content": question},
    ]
    return "".join(generator.stream_chat(msgs, max_tokens)).strip()
