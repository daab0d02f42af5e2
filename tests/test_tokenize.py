"""BM25 tokenizer: every rule of the module docstring, one case each."""
from __future__ import annotations

import pytest

from indexer.tokenize import STOP_WORDS, BiomedicalTokenizer, TokenizerConfig, us_spelling
from indexer.tokenize import tokenize as stemming_tokenize

pytestmark = pytest.mark.unit

# Rules 1-9 are tested on unstemmed tokens (readable expectations); rule 10 has its own tests.
tokenize = BiomedicalTokenizer(TokenizerConfig(stem=False))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("IL-6", ["il-6", "il6", "il", "6"]),
        ("COVID-19", ["covid-19", "covid19", "covid", "19"]),
        ("SARS-CoV-2", ["sars-cov-2", "sarscov2", "sars", "cov", "2"]),
        ("5-HT3", ["5-ht3", "5ht3", "5", "ht3"]),
        ("HbA1c", ["hba1c"]),
        ("β-blocker", ["β-blocker", "βblocker", "beta-blocker", "betablocker", "β", "beta", "blocker"]),
        ("t(9;22)", ["t(9;22)", "9;22"]),
        ("t(9;22)(q34;q11)", ["t(9;22)(q34;q11)", "9;22", "q34;q11"]),
        ("inv(16)", ["inv(16)", "16"]),
    ],
)
def test_biomedical_tokens(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_parts_of_a_compound_match_a_query_for_the_parts() -> None:
    doc = set(tokenize("Elevated IL-6 after SARS-CoV-2 infection"))
    assert {"il", "6", "sars", "cov"} <= doc
    assert "il6" in doc and set(tokenize("IL6")) <= doc  # spelling without hyphen meets


def test_greek_and_spelled_out_meet() -> None:
    doc = set(tokenize("Patients on β-blockers"))
    assert set(tokenize("beta blockers")) <= doc
    assert set(tokenize("beta-blockers")) <= doc
    # and the other way round
    assert set(tokenize("TNF alpha")) <= set(tokenize("TNF-α levels"))
    assert "alpha" in tokenize("Α")  # capital alpha


def test_micro_prefix_not_spelled() -> None:
    assert tokenize("5 μg") == ["5", "μg"]
    assert tokenize("µg") == ["μg"]  # micro sign is NFKC-folded to Greek mu
    assert "mu" in tokenize("μ-opioid receptor")


def test_plain_words_lowercase_stop_words_punctuation() -> None:
    assert tokenize("What are the symptoms of Diabetes, and how is it treated?!") == [
        "symptoms", "diabetes", "treated",
    ]


def test_numbers_decimals_and_separators() -> None:
    assert tokenize("2.5 mg/dL in 10% of 1990s") == ["2.5", "mg", "dl", "10", "1990s"]
    assert tokenize("end of sentence. Next") == ["end", "sentence", "next"]


def test_possessive_and_contractions() -> None:
    assert tokenize("Alzheimer’s and Crohn's disease") == ["alzheimer", "crohn", "disease"]
    assert tokenize("don't") == []


def test_single_letters_kept_except_a_and_i() -> None:
    assert tokenize("vitamin D, hepatitis B, T cells, a dose I took") == [
        "vitamin", "d", "hepatitis", "b", "t", "cells", "dose", "took",
    ]


def test_latin_abbreviations_leave_no_stray_letters() -> None:
    assert tokenize("drugs, e.g. aspirin, i.e. NSAIDs (Smith et al.) vs. placebo") == [
        "drugs", "aspirin", "nsaids", "smith", "placebo",
    ]


def test_uppercase_acronym_is_not_a_stop_word() -> None:
    assert tokenize("ALL in all") == ["all"]
    assert tokenize("NO synthase, US imaging") == ["no", "synthase", "us", "imaging"]
    assert tokenize("T-ALL") == ["t-all", "tall", "t", "all"]


def test_stop_word_list_is_function_words_only() -> None:
    assert 120 <= len(STOP_WORDS) <= 220
    for meaningful in ("b", "c", "d", "t", "k", "no2", "pain", "blood", "type", "ii", "ms"):
        assert meaningful not in STOP_WORDS


def test_config_switches() -> None:
    plain = BiomedicalTokenizer(TokenizerConfig(compound_parts=False, greek_variants=False))
    assert plain("IL-6 β-blocker") == ["il-6", "β-blocker"]
    cased = BiomedicalTokenizer(TokenizerConfig(lowercase=False, stop_words=["the"]))
    assert cased("The IL-6") == ["IL-6", "IL6", "IL", "6"]


def test_config_round_trip() -> None:
    config = TokenizerConfig(stop_words=["b", "a"], greek_variants=False)
    data = config.to_dict()
    assert data["stop_words"] == ["a", "b"]
    assert TokenizerConfig.from_dict(data) == config


def test_empty() -> None:
    assert tokenize("") == []
    assert tokenize(" ,.;- ") == []


@pytest.mark.unit
@pytest.mark.parametrize("british,american", [
    ("anaemia", "anemia"), ("Haemoglobin", "hemoglobin"), ("paediatric", "pediatric"), ("aetiology", "etiology"),
    ("leukaemia", "leukemia"), ("ischaemic", "ischemic"), ("oedema", "edema"), ("oesophageal", "esophageal"),
    ("oestrogen", "estrogen"), ("diarrhoea", "diarrhea"), ("dyspnoea", "dyspnea"), ("foetal", "fetal"),
    ("coeliac", "celiac"), ("tumours", "tumors"), ("behavioural", "behavioral"), ("randomised", "randomized"),
    ("hospitalisation", "hospitalization"), ("centre", "center"), ("fibres", "fibers"), ("labelled", "labeled"),
    ("catalogue", "catalog"), ("sulphate", "sulfate"), ("grey", "gray"), ("haemoglobin-A1c", "hemoglobin-a1c"),
])
def test_british_and_american_spellings_meet(british, american):
    assert tokenize(british)[0] == tokenize(american)[0] == american
    assert stemming_tokenize(british) == stemming_tokenize(american)


@pytest.mark.unit
@pytest.mark.parametrize("word", ["AED", "AEs", "aerobic", "poet", "shoe", "canoe", "influenzae", "vertebrae", "IL-6"])
def test_spelling_rule_leaves_acronyms_and_other_words_alone_or_distinct(word):
    # Either unchanged, or mapped to a form no other common word has (aerobic -> erobic).
    out = tokenize(word)[0]
    assert out == word.lower() or (word.lower().startswith("ae") and out == word.lower()[1:])


@pytest.mark.unit
@pytest.mark.unit
def test_stemming_joins_word_forms_but_not_acronyms_or_compounds():
    assert stemming_tokenize("treated")[0] == stemming_tokenize("treats")[0] == stemming_tokenize("treating")[0]
    assert stemming_tokenize("symptoms") == stemming_tokenize("symptom")
    assert stemming_tokenize("AIDS") == ["aids"] and stemming_tokenize("aids") == ["aid"]  # acronym kept whole
    assert stemming_tokenize("IL-6")[:2] == ["il-6", "il6"] and stemming_tokenize("HbA1c") == ["hba1c"]
    assert stemming_tokenize("2.5 mg") == ["2.5", "mg"]
    assert us_spelling("anaemias") == "anemias"


@pytest.mark.unit
def test_index_tokenizer_versions_keep_their_rules():
    from indexer.manifest import IndexMismatchError, index_tokenizer
    from indexer.tokenize import TOKENIZER_NAME

    assert TOKENIZER_NAME == "clinqa-biomedical-v2"
    _, v1 = index_tokenizer({"tokenizer": "clinqa-biomedical-v1"}, "IDX")
    _, v2 = index_tokenizer({"tokenizer": TOKENIZER_NAME}, "IDX")
    assert v1("Anaemia treated") == ["anaemia", "treated"] and v2("Anaemia treated") == ["anemia", "treat"]
    with pytest.raises(IndexMismatchError, match="clinqa-biomedical-v9") as err:
        index_tokenizer({"tokenizer": "clinqa-biomedical-v9"}, "IDX")
    assert "clinqa index build --index IDX" in err.value.hint
