"""BM25 tokenizer for biomedical text.

The same tokenizer runs over passages at index time and over questions at query time, so
every rule below is symmetric: whatever a query spells, the passage must produce the same
token for it.

Rules, applied in this order:

1. Characters are unified as in `indexer.text.unify_characters` (NFKC, dash and quote
   variants), so a query typed with "–" or "’" behaves like the normalised corpus.
2. Apostrophe suffixes 's 't 're 've 'll 'd 'm are dropped ("Alzheimer's" -> "alzheimer",
   "don't" -> "don", a stop word); any other apostrophe separates words.
3. Chromosome notation is kept whole: `t(9;22)`, `t(9;22)(q34;q11)`, `inv(16)`,
   `del(5q)`, `i(17q)`; the text inside each pair of parentheses is added as an extra token
   (`t(9;22)` -> `t(9;22)`, `9;22`), so "9;22" alone still matches.
4. Everything else is split into *pieces*: runs of Unicode letters/digits (Greek included),
   where a period between digits stays inside a piece ("2.5" is one number). Any other
   character (space, punctuation, "/", "+", "%") separates.
5. Pieces joined by a hyphen without spaces form a *compound* (`IL-6`, `SARS-CoV-2`,
   `5-HT3`, `β-blocker`, `non-small-cell`). A compound yields
   - the whole compound (`sars-cov-2`),
   - the joined form without hyphens (`sarscov2`), so "IL6" and "IL-6" meet,
   - every piece as if it were a plain word (`sars`, `cov`, `2`), so a query for the parts
     still matches. Pieces are never split further: `HbA1c` -> `hba1c`, `5-HT3` -> `5`,
     `ht3`, `5-ht3`, `5ht3`.
6. Greek spelled out: a token containing a Greek letter also yields the token with the
   letters spelled (`β-blocker` -> `beta-blocker`, `betablocker`, piece `β` -> `beta`),
   so "beta blocker" finds "β-blocker" and vice versa. μ directly before a Latin letter
   is the unit prefix micro (μg, μmol) and is not spelled out ("mug" would be noise).
7. Lowercase (configurable), then stop words are dropped: a fixed list of ~170 English
   function words (`STOP_WORDS`). It deliberately leaves out single letters other than
   "a" and "i" (vitamin D, hepatitis B, T cell) and meaningful short words. A stop word
   written in capitals with two or more letters is an acronym and is kept (ALL = acute
   lymphoblastic leukaemia, US = ultrasound, NO = nitric oxide). Whole compounds and
   chromosome notations are never stop words.
8. Pure punctuation disappears; numbers are kept.
9. British spellings meet American ones (`us_spelling`, lower-cased tokens of 5+ letters):
   ae -> e before a letter (anaemia, haemoglobin, paediatric, aetiology), oe -> e in the
   medical roots oedem-, oesoph-, oestr-, foet-, coeli-, amoeb-, homoeo- and -rrhoea/-pnoea,
   -our -> -or after tum/col/behavi/lab/... (tumour), -ise/-isation -> -ize/-ization,
   -tre/-bre -> -ter/-ber (centre, fibre), -elled/-elling -> -eled/-eling, -ogue -> -og,
   sulph -> sulf, and a few words (grey, mould, programme, ageing). Both sides are mapped, so
   only a collision of two different words could hurt; over the bundled corpus, COVID-QA and
   BioASQ (36k words) every merged pair is a spelling pair (docs/decisions.md). The token
   is not shown to anyone; passages keep their spelling.
10. Words are stemmed (`stem`): the Snowball English stemmer (PyStemmer, the stemmer bm25s
   recommends; Lucene/Anserini BM25 baselines stem too) on lower-cased tokens made only of
   letters, so "treated", "treats" and "treating" meet as "treat" and "symptoms" as
   "symptom". Words written in capitals (AIDS, ALS) are acronyms and are not stemmed;
   compounds, numbers and mixed tokens (IL-6, hba1c) are left whole. Measured on dev
   questions, BM25 alone (benchmarks/bench_bm25_rules.py): COVID-QA hit@5 68.3 -> 73.3,
   paraphrased bundled-corpus questions hit@1 31.7 -> 35.0, BioASQ hit@5 94.0 -> 94.4.

Tokens come out in text order, each compound's whole form first, then its variants and
parts. Duplicates are kept: BM25 counts term frequency.
"""
from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import Stemmer

from indexer.text import unify_characters

# Function words only; adapted from the NLTK English list (minus single letters other than
# "a"/"i" and minus contraction fragments, which rule 2 removes) plus a few frequent
# discourse words of scientific prose (however, thus, also, may...). No medical words.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also although am among an and any are as at be
    because been before being below between both but by can could did do does doing don
    down during each either else etc even ever every few for from further had has have
    having he her here hers herself him himself his how however i if in into is it its
    itself just least less let may me might more most much must my myself neither nor not
    now of off often on once only or other others otherwise our ours ourselves out over
    own per perhaps rather same shall she should since so some such than that the their
    theirs them themselves then there thereby therefore these they this those though
    through thus to too under until up upon us very via was we were what whatever when
    whenever where whereas whether which while who whom whose why will with within
    without would yet you your yours yourself yourselves
    isn aren wasn weren hasn haven hadn doesn didn won wouldn shan shouldn couldn mustn
    mightn needn eg ie vs versus
    """.split()
)

GREEK_NAMES: dict[str, str] = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu",
    "ν": "nu", "ξ": "xi", "ο": "omicron", "π": "pi", "ρ": "rho", "σ": "sigma", "ς": "sigma",
    "τ": "tau", "υ": "upsilon", "φ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "ϐ": "beta", "ϑ": "theta", "ϕ": "phi", "ϵ": "epsilon", "ϰ": "kappa", "ϱ": "rho",
}
_GREEK_CHARS = "".join(GREEK_NAMES) + "".join(k.upper() for k in GREEK_NAMES if k.upper() != k)

_APOSTROPHE_SUFFIX = re.compile(r"(?<=[^\W_])'(?:s|t|re|ve|ll|d|m)\b", re.IGNORECASE)
# Pieces: letter/digit runs; ".5" continues a piece only after a digit (decimals).
_PIECE = r"[^\W_]+(?:(?<=\d)\.\d+)*"
_CHROMOSOME = r"(?<![^\W_])(?:t|inv|del|dup|der|ins|i|r)\([0-9xXyYpPqQ.;]+\)(?:\([0-9pPqQ.;]+\))*"
_TOKEN = re.compile(rf"(?P<chrom>{_CHROMOSOME})|(?P<compound>{_PIECE}(?:-{_PIECE})*)", re.IGNORECASE)
_PARENS = re.compile(r"\(([^()]*)\)")
# Latin abbreviations whose letters would otherwise become stray one-letter tokens.
_ABBREVIATIONS = re.compile(r"(?<![^\W_])(?:e\.g|i\.e|et\s+al|cf|vs)\.", re.IGNORECASE)
_GREEK = re.compile(rf"[{_GREEK_CHARS}]")
# μ before a Latin letter is the SI prefix micro (after NFKC µ is μ): not spelled out.
_GREEK_SPELL = re.compile(rf"μ(?![a-zA-Z])|[{_GREEK_CHARS.replace('μ', '')}]")


# Rule 9 (British -> American spelling), on lower-cased tokens.
_US_AE = re.compile(r"ae(?=[a-z])")
_US_OE = re.compile(r"^(?:oedem|oesoph|oestr|foet|coeli|amoeb|homoeo|manoeuv)|rrhoe|pnoe")
_US_OUR = re.compile(r"(tum|col|behavi|lab|od|hum|vap|fav|rig|hon|neighb|sav|harb|vig|arm|flav|endeav|rum|splend|clam|ferv)our")
_US_ISE = re.compile(r"(?<=[a-z]{2})is(?=e$|ed$|es$|ing$|ation$|ations$|ational$|er$|ers$)")
_US_TRE = re.compile(r"(?<=[a-z]{2})([tb])re(?=s?$|d$)")
_US_ELL = re.compile(r"(?<=[a-z]{2})ell(?=ed$|ing$|er$|ers$)")
_US_OGUE = re.compile(r"(?<=[a-z]{3})ogue(?=s?$)")
_US_WORDS = {"grey": "gray", "greys": "grays", "mould": "mold", "moulds": "molds", "aluminium": "aluminum",
             "programme": "program", "programmes": "programs", "ageing": "aging", "tyre": "tire", "tyres": "tires"}


def us_spelling(token: str) -> str:
    """American spelling of a lower-cased token (rule 9), piece by piece in a hyphenated
    compound; pieces under 5 characters or with other characters than a-z are returned
    unchanged (acronyms: AED, AEs; "haemoglobin-a1c" -> "hemoglobin-a1c")."""
    if "-" in token:
        return "-".join(us_spelling(piece) for piece in token.split("-"))
    if token in _US_WORDS:
        return _US_WORDS[token]
    if len(token) < 5 or not token.isascii() or not token.isalpha():
        return token
    t = _US_AE.sub("e", token)
    t = _US_OE.sub(lambda m: m.group(0).replace("oe", "e", 1), t)
    t = _US_OUR.sub(r"\1or", t)
    t = _US_ISE.sub("iz", t)
    t = _US_TRE.sub(r"\1er", t)
    t = _US_ELL.sub("el", t)
    t = _US_OGUE.sub("og", t)
    return t.replace("sulph", "sulf")


_STEMMERS = threading.local()  # a PyStemmer object is not safe to share between threads


def snowball_stem(word: str) -> str:
    """Snowball (Porter2) English stem of a lower-cased word (rule 10)."""
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = Stemmer.Stemmer("english")
    return stemmer.stemWord(word)


def _spell_greek(token: str) -> str:
    return _GREEK_SPELL.sub(lambda m: GREEK_NAMES[m.group(0).lower()], token)


@dataclass(frozen=True)
class TokenizerConfig:
    """How BM25 tokens are made. Stored with the index so queries use the same rules."""

    lowercase: bool = True
    stop_words: frozenset[str] = field(default=STOP_WORDS)
    compound_parts: bool = True  # add the pieces of IL-6 (il, 6) and the joined form (il6)
    greek_variants: bool = True  # add beta-blocker for β-blocker
    keep_uppercase_acronyms: bool = True  # ALL, US, NO are not stop words
    us_spelling: bool = True  # anaemia -> anemia (rule 9); only with lowercase
    stem: bool = True  # Snowball English stems of plain lower-case words (rule 10); only with lowercase

    def __post_init__(self) -> None:
        # Accept any iterable (e.g. a list from JSON) but store a frozenset so the config
        # stays hashable and comparisons ignore order.
        object.__setattr__(self, "stop_words", frozenset(w.lower() for w in self.stop_words))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop_words"] = sorted(self.stop_words)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TokenizerConfig":
        return cls(**data)


class BiomedicalTokenizer:
    """Callable text -> list of BM25 tokens (rules in the module docstring)."""

    def __init__(self, config: TokenizerConfig | None = None) -> None:
        self.config = config or TokenizerConfig()

    def __call__(self, text: str) -> list[str]:
        if not text:
            return []
        text = _APOSTROPHE_SUFFIX.sub("", unify_characters(text))
        text = _ABBREVIATIONS.sub(" ", text)
        out: list[str] = []
        for m in _TOKEN.finditer(text):
            if m.group("chrom"):
                self._add_chromosome(m.group("chrom"), out)
            else:
                self._add_compound(m.group("compound"), out)
        return out

    # -- helpers -----------------------------------------------------------------

    def _case(self, token: str) -> str:
        if not self.config.lowercase:
            return token
        low = token.lower()
        if self.config.us_spelling:
            low = us_spelling(low)
        if self.config.stem and low.isalpha() and not (len(token) >= 2 and token.isupper()):
            low = snowball_stem(low)
        return low

    def _add_word(self, word: str, out: list[str]) -> None:
        """A plain word (or one piece of a compound): stop-word filtered."""
        if word.lower() in self.config.stop_words and not (
            self.config.keep_uppercase_acronyms and len(word) >= 2 and word.isupper()
        ):
            return
        out.append(self._case(word))
        if self.config.greek_variants and _GREEK.search(word):
            spelled = _spell_greek(word)
            if spelled != word:
                out.append(self._case(spelled))

    def _add_compound(self, compound: str, out: list[str]) -> None:
        pieces = compound.split("-")
        if len(pieces) == 1:
            self._add_word(compound, out)
            return
        out.append(self._case(compound))
        if not self.config.compound_parts:
            if self.config.greek_variants and _GREEK.search(compound):
                out.append(self._case(_spell_greek(compound)))
            return
        joined = "".join(pieces)
        if self.config.lowercase and self.config.us_spelling:  # haemoglobin-A1c meets hemoglobin-A1c joined too
            joined = "".join(us_spelling(p.lower()) for p in pieces)
        out.append(self._case(joined))
        if self.config.greek_variants and _GREEK.search(compound):
            out.append(self._case(_spell_greek(compound)))
            out.append(self._case(_spell_greek(joined)))
        for piece in pieces:
            self._add_word(piece, out)

    def _add_chromosome(self, notation: str, out: list[str]) -> None:
        out.append(self._case(notation))
        for inner in _PARENS.findall(notation):
            # inv(16) -> "16"; t(9;22) -> "9;22": the bare band/pair still matches.
            if inner:
                out.append(self._case(inner))


_DEFAULT = BiomedicalTokenizer()

# The rules an index was tokenised with are named in its manifest ("tokenizer"); every
# version here stays readable and writable, so an old index keeps serving and `index add`
# extends it with its own rules. A change of rules gets a new name.
TOKENIZER_NAME = "clinqa-biomedical-v2"
TOKENIZERS: dict[str, BiomedicalTokenizer] = {
    "clinqa-biomedical-v1": BiomedicalTokenizer(TokenizerConfig(us_spelling=False, stem=False)),
    TOKENIZER_NAME: _DEFAULT,
}


def tokenize(text: str) -> list[str]:
    """Tokenize with the default configuration (the rules named TOKENIZER_NAME)."""
    return _DEFAULT(text)
