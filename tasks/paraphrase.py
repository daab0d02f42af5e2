"""Paraphrases of MedQuAD's templated questions, for reranker training and its dev check (pure).

MedQuAD (Ben Abacha & Demner-Fushman 2019) titles each answer with one of ~16 question
templates ("What are the treatments for Gout ?"). A reranker trained on those titles as the
questions learns to match the title verbatim and scores a clinician's own wording ("How is
gout treated?") at its floor (docs/experiments.md, session 4). Rewriting the training
questions with other wordings of the same intent, and lower-casing the topic as people type
it, removes that shortcut. Train and dev use disjoint template lists, so the dev check
measures wordings the model has not seen.
"""
from __future__ import annotations

import random
import re
from typing import Literal

Split = Literal["train", "dev"]

# (intent, title pattern with the topic as group "x", train templates, dev templates)
_INTENTS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("symptoms", r"what are the (?:signs and )?symptoms of (?P<x>.+)",
     ("What are the signs of {x}?", "How does {x} present?", "What symptoms does {x} cause?",
      "clinical features of {x}", "How do I know if I have {x}?", "{x} symptoms"),
     ("Which symptoms suggest {x}?", "What does {x} feel like?")),
    ("treatment", r"what are the treatments for (?P<x>.+)",
     ("How is {x} treated?", "How do you treat {x}?", "What is the treatment for {x}?", "therapy for {x}",
      "management of {x}", "{x} treatment options"),
     ("What can be done for {x}?", "Which drugs or therapies help {x}?")),
    ("diagnosis", r"how to diagnose (?P<x>.+)",
     ("How is {x} diagnosed?", "What tests diagnose {x}?", "diagnosis of {x}", "How do doctors find out about {x}?"),
     ("Which test confirms {x}?", "How can {x} be detected?")),
    ("cause", r"what causes (?:causes of )?(?P<x>.+)",
     ("What is the cause of {x}?", "Why does {x} happen?", "causes of {x}", "What leads to {x}?"),
     ("What triggers {x}?", "Where does {x} come from?")),
    ("prevention", r"how to prevent (?P<x>.+)",
     ("How can {x} be prevented?", "prevention of {x}", "Can I avoid getting {x}?"),
     ("What lowers the chance of {x}?", "Is there a way to stop {x} from happening?")),
    ("genetics", r"what are the genetic changes related to (?P<x>.+)",
     ("Which genes are involved in {x}?", "What mutations cause {x}?", "genetics of {x}"),
     ("Which gene is mutated in {x}?", "What is the genetic basis of {x}?")),
    ("inheritance", r"is (?P<x>.+) inherited",
     ("Is {x} hereditary?", "Does {x} run in families?", "How is {x} passed down?"),
     ("Can parents pass {x} to their children?", "What is the inheritance pattern of {x}?")),
    ("frequency", r"how many people are affected by (?P<x>.+)",
     ("How common is {x}?", "What is the prevalence of {x}?", "How frequent is {x}?"),
     ("How rare is {x}?", "What is the incidence of {x}?")),
    ("outlook", r"what is the outlook for (?P<x>.+)",
     ("What is the prognosis of {x}?", "What is the life expectancy with {x}?", "prognosis for {x}"),
     ("Can people recover from {x}?", "What is the long-term outcome of {x}?")),
    ("risk", r"who is at risk for (?P<x>.+)",
     ("What are the risk factors for {x}?", "Who gets {x}?", "Who is likely to develop {x}?"),
     ("Who is more likely to have {x}?", "Which people are prone to {x}?")),
    ("research", r"what research (?:\(or clinical trials\) )?is being done for (?P<x>.+)",
     ("Are there clinical trials for {x}?", "What studies are ongoing for {x}?", "new research on {x}"),
     ("Is anyone studying new treatments for {x}?",)),
    ("stages", r"what are the stages of (?P<x>.+)",
     ("How is {x} staged?", "staging of {x}"), ("What stage systems are used for {x}?",)),
    ("complications", r"what are the complications of (?P<x>.+)",
     ("What problems can {x} cause?", "complications of {x}"), ("What can go wrong with {x}?",)),
    ("self-care", r"what to do for (?P<x>.+)",
     ("What should I do about {x}?", "self-care for {x}", "living with {x}"), ("How can I cope with {x}?",)),
    ("information", r"do you have information about (?P<x>.+)",
     ("Tell me about {x}", "information on {x}"), ("What should I know about {x}?",)),
    ("definition", r"what (?:is|are) (?:\(are\) )?(?P<x>.+)",
     ("What is {x}?", "Can you explain {x}?", "Tell me about {x}", "What does {x} mean?", "define {x}"),
     ("Give me an overview of {x}", "What kind of condition is {x}?")),
)
_COMPILED = tuple((name, re.compile(rf"^\s*{pat}\s*$", re.IGNORECASE), tr, dv) for name, pat, tr, dv in _INTENTS)


def _clean(title: str) -> str:
    # "Who is at risk for X? ?" and trailing " ?" are MedQuAD's own punctuation.
    return re.sub(r"[\s?]+$", "", title.strip())


def medquad_intent(title: str) -> tuple[str, str] | None:
    """(intent, topic) of a MedQuAD question title, or None when no template matches.

    >>> medquad_intent("What are the treatments for Gout ?")
    ('treatment', 'Gout')
    """
    t = _clean(title)
    for name, rx, _, _ in _COMPILED:
        m = rx.match(t)
        if m and m.group("x").strip():
            return name, m.group("x").strip()
    return None


def typed_topic(topic: str) -> str:
    """The topic as people type it: capitalised words lower-cased, acronyms and words with
    inner capitals or digits kept ("Adult Acute Lymphoblastic Leukemia" -> "adult acute
    lymphoblastic leukemia", "COPD" and "Ehlers-Danlos" kept as written where not title-case)."""
    def low(w: str) -> str:
        return w.lower() if re.fullmatch(r"[A-Z][a-z]+(?:'s)?", w) else w
    return " ".join(low(w) for w in topic.split())


def paraphrase_question(title: str, rng: random.Random, split: Split = "train") -> str | None:
    """Another wording of a MedQuAD question title with the same intent, or None when the
    title matches no template. `split` picks the template list ("dev" lists are disjoint
    from "train"); the topic is lower-cased as typed half of the time.

    Raises ValueError for an unknown split.
    """
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")
    t = _clean(title)
    for name, rx, train, dev in _COMPILED:
        m = rx.match(t)
        if not m or not m.group("x").strip():
            continue
        topic = m.group("x").strip()
        if rng.random() < 0.5:
            topic = typed_topic(topic)
        template = rng.choice(train if split == "train" else dev)
        return template.format(x=topic)
    return None
