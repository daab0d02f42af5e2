"""Question type detection: yes/no, factoid, list or other (summary / definition / how / why).

Rules over the first words of the question, in the BioASQ sense of the types (Tsatsaronis
et al., 2015, "An overview of the BIOASQ large-scale biomedical semantic indexing and
question answering competition", BMC Bioinformatics 16:138):

- yesno: the question starts with an auxiliary or modal verb ("Is", "Does", "Can", ...),
  possibly after a leading clause ("In patients with CKD, is ...") or "Is it true that";
  "A or B" questions ("Is X or Y better?") ask for a choice and are factoid.
- list: asks for several things: "List ...", "Name three ...", "What are ...",
  "Which genes are ...", "Which are the ...", a number word, "types/kinds of".
- factoid: a wh-question for one thing ("Which gene ...", "What is the most ...",
  "Who", "Where", "When", "How many").
- other: everything else, mostly summaries and definitions ("What is X?", "How does ...",
  "Why ...", "Describe ...").

Measured on BioASQ questions of known type with `python benchmarks/bench_question_type.py`
(rules written on the BioASQ 7B-11B training questions, scored on the dev questions).
"""
from __future__ import annotations

import re

QUESTION_TYPES = ("yesno", "factoid", "list", "other")

AUXILIARIES = frozenset(
    "is are was were am do does did can could should would will shall may might must has have had "
    "isn't aren't wasn't weren't don't doesn't didn't can't cannot couldn't shouldn't wouldn't won't "
    "hasn't haven't hadn't".split()
)
LIST_STARTS = ("list", "enumerate", "name all", "name the", "give the", "give a list", "mention", "which are",
               "what are", "what were", "which were")
NUMBER_WORDS = frozenset("two three four five six seven eight nine ten several multiple".split())
LIST_NOUNS = re.compile(r"\b(types|kinds|classes|forms|examples|members|components|subunits|symptoms|"
                        r"signs|treatments|drugs|genes|proteins|mutations)\b")
FACTOID_STARTS = ("which", "what", "who", "whom", "whose", "where", "when", "how many", "how much", "how long",
                  "how old", "how often", "how frequent", "how large", "how big", "how small", "name")
# "Is X or Y better?" asks to choose; "Is X caused by A or B?" without a comparison is still yes/no in BioASQ.
CHOICE_WORDS = frozenset("more less better worse higher lower greater larger smaller faster slower dominant "
                         "recessive male female".split())
PREPOSITIONS = frozenset("in for from to by on with at of under through during after against into".split())
OTHER_STARTS = ("how", "why", "describe", "explain", "summarize", "summarise", "define", "discuss", "give an overview")
# "Which X are/were/have ..." with a plural head noun asks for a list.
_PLURAL_WH = re.compile(r"\b(?:which|what)\s+(?:\w+[- ]){0,3}?(\w+s)\s+(?:are|were|have|do|can|could|may|might|"
                        r"cause|is|lead|affect|interact|bind|regulate|increase|decrease)\b")
WH_WORDS = frozenset("which what who whom whose where when why how".split())
_WORD = re.compile(r"[a-z0-9'’]+(?:-[a-z0-9]+)*")


def _norm(question: str) -> str:
    q = " ".join(question.strip().lower().replace("’", "'").split())
    q = q.lstrip("\"'([{-–•*.) ")
    for polite in ("please ", "can you ", "could you ", "tell me "):
        if q.startswith(polite) and not q.startswith(("can you get", "could you get")):
            q = q[len(polite):]
    return q


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _is_yesno(q: str) -> bool:
    words = _words(q)
    if not words:
        return False
    if re.search(r"\byes\s*(?:,|/)?\s*or\s*no\b|\btrue\s+or\s+false\b", q):
        return True
    if words[0] in AUXILIARIES:
        return not _is_choice(q)
    # A leading clause before the verb: "In adults with CKD, is metformin safe?"
    if "," in q:
        lead, rest = q.split(",", 1)
        rest_words, lead_words = _words(rest), _words(lead)
        if (rest_words and rest_words[0] in AUXILIARIES and len(lead_words) <= 8
                and not any(w in WH_WORDS for w in lead_words)):
            return not _is_choice(rest)
    return False


def _is_choice(q: str) -> bool:
    """"A or B" with a comparison ("Are men or women more prone ...?")."""
    if " or " not in q or q.rstrip("?. ").endswith(" or not"):
        return False
    return any(w in CHOICE_WORDS for w in _words(q))


def _is_list(q: str) -> bool:
    if q.startswith(LIST_STARTS):
        return True
    words = _words(q)
    if len(words) > 1 and words[0] in ("name", "which", "what", "list") and (words[1] in NUMBER_WORDS or words[1].isdigit()):
        return True
    if words and words[0] not in WH_WORDS and _PLURAL_WH.search(q):  # "Mutations in which genes are ..."
        return True
    if q.startswith(("which", "what")) and (_PLURAL_WH.match(q) or LIST_NOUNS.search(" ".join(words[:4]))):
        return not q.startswith(("what is", "which is", "what was", "which was"))
    return False


def detect_question_type(question: str) -> str:
    """One of QUESTION_TYPES for a question (any case; trailing "?" optional). A pure
    function of the text: no model, microseconds per question."""
    q = _norm(question)
    if not _words(q):
        return "other"  # punctuation or symbols only
    if _is_yesno(q):
        return "yesno"
    words = _words(q)
    if words and words[0] in AUXILIARIES:
        return "factoid"  # a choice: "Are men or women more prone to lupus?"
    if _is_list(q):
        return "list"
    if q.startswith(("what is", "what are", "what's")) and len(words) <= 4:
        return "other"  # "What is X?" asks for a definition
    if q.startswith(("what is the role", "what is the function", "what is the mechanism", "what is the effect",
                     "what is known", "what is the association", "what is the relationship")):
        return "other"
    if q.startswith(FACTOID_STARTS):
        return "factoid"
    if words[0] in PREPOSITIONS and len(words) > 1 and words[1] in ("which", "what", "whom", "whose"):
        return "factoid"  # "In which tissues ...", "For which indications ..."
    if q.startswith(OTHER_STARTS):
        return "other"
    if re.search(r"\b(?:which|what)\b", q):
        return "factoid"  # "Cemiplimab is used for treatment of which cancer?"
    return "other"


def check_question_type(value: str | None) -> str | None:
    """A `--type` override: None passes, a known type is returned, anything else raises
    ValueError naming the choices."""
    if value is None:
        return None
    v = value.strip().lower().replace("/", "").replace("-", "").replace("_", "")
    if v not in QUESTION_TYPES:
        raise ValueError(f"unknown question type {value!r}; use one of {', '.join(QUESTION_TYPES)}")
    return v
