"""Question text helpers shared by the reader and the reranker (both read a question + passage
pair under one word-piece budget)."""
from __future__ import annotations

import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MIN_QUESTION_PIECES = 8  # a final "Why?" alone says too little: earlier sentences are added up to this


@dataclass(frozen=True)
class QuestionFit:
    """How much of a question the reader reads: all of it, or its head and tail."""

    text: str  # what the reader reads
    tokens: int  # word pieces in the full question
    head: int  # word pieces kept from the start (== tokens when nothing was cut)
    tail: int  # word pieces kept from the end

    @property
    def truncated(self) -> bool:
        return self.head + self.tail < self.tokens


def question_budget(max_seq_len: int) -> int:
    """Word pieces a question may take in a window: a third of it, so the context keeps room."""
    return max_seq_len // 3


def fit_question(tokenizer, question: str, max_seq_len: int) -> QuestionFit:
    """What of a question a reader (or reranker) reads under `question_budget(max_seq_len)`.

    A question within the budget is read whole. A longer one is usually a case history with
    the actual question at the end ("...65-year-old with ... What is the next step?"): its
    last sentence is read (with the sentences before it while they add up to fewer than
    MIN_QUESTION_PIECES word pieces), since readers trained on short questions find nothing
    when the history is read as part of the question (measured on the shipped readers; the
    history still counts in retrieval). When the last sentence alone is over the budget, the
    head (a quarter) and tail (the rest) are read. Pure apart from the tokenizer."""
    q = question.strip()
    ids = tokenizer(q, add_special_tokens=False)["input_ids"]
    budget = question_budget(max_seq_len)
    if len(ids) <= budget:
        return QuestionFit(q, len(ids), len(ids), 0)
    sentences = [x for x in _SENTENCE_END.split(q) if x.strip()]
    if len(sentences) > 1:
        tail_text, n = "", 0
        while sentences and n < MIN_QUESTION_PIECES:
            tail_text = (sentences.pop().strip() + " " + tail_text).strip()
            n = len(tokenizer(tail_text, add_special_tokens=False)["input_ids"])
        if n <= budget and sentences:  # something was left out
            return QuestionFit(tail_text, len(ids), 0, n)
    head = budget // 4
    tail = budget - head
    text = tokenizer.decode(ids[:head]) + " ... " + tokenizer.decode(ids[-tail:])
    # Decoding and re-encoding can change the count by a piece or two; trim the head if so.
    while head > 0 and len(tokenizer(text, add_special_tokens=False)["input_ids"]) > budget:
        head -= 1
        text = tokenizer.decode(ids[:head]) + " ... " + tokenizer.decode(ids[-tail:])
    return QuestionFit(text, len(ids), head, tail)
