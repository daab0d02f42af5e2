"""Sentence splitting and sentence-aware chunking, with a regex stand-in for word pieces."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.chunking import ChunkingConfig, chunk_document, hf_token_spans, split_sentences
from indexer.errors import ChunkingError, IndexerError
from store.types import Document, chunk_id_for

_WORD = re.compile(r"\w+|[^\w\s]")


def regex_spans(text: str) -> list[tuple[int, int]]:
    """Stand-in for a word-piece tokenizer: words and single punctuation marks."""
    return [m.span() for m in _WORD.finditer(text)]


def words_only(text: str) -> list[tuple[int, int]]:
    """A tokenizer that skips punctuation, so characters between tokens are untokenized."""
    return [m.span() for m in re.finditer(r"\w+", text)]


def doc(text: str) -> Document:
    return Document(doc_id="d1", title="T", text=text, url="https://x", source="S", license="MIT")


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def check_passages(d: Document, passages, token_spans=regex_spans, config=ChunkingConfig()) -> None:
    assert [p.order for p in passages] == list(range(len(passages)))
    starts = [p.start for p in passages]
    assert starts == sorted(set(starts))
    covered = set()
    for p in passages:
        assert d.text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert p.chunk_id == chunk_id_for(d.doc_id, p.start, p.text)
        assert (p.doc_id, p.title, p.url, p.source, p.license) == (d.doc_id, d.title, d.url, d.source, d.license)
        assert len(token_spans(p.text)) <= config.max_tokens
        covered.update(range(p.start, p.end))
    assert all(i in covered for i, ch in enumerate(d.text) if not ch.isspace())


# -- sentences ---------------------------------------------------------------------------


@pytest.mark.unit
def test_split_simple() -> None:
    assert sentences("One here. Two there! Three? Four") == ["One here.", "Two there!", "Three?", "Four"]


@pytest.mark.unit
def test_split_respects_medical_abbreviations_and_decimals() -> None:
    text = (
        "Smith et al. reported a dose of 2.5 mg daily. Dr. Jones disagreed, e.g. in Fig. 2 "
        "and no. 4 vs. placebo. NSAIDs, i.e. ibuprofen, help. Given i.v. Another sentence."
    )
    assert sentences(text) == [
        "Smith et al. reported a dose of 2.5 mg daily.",
        "Dr. Jones disagreed, e.g. in Fig. 2 and no. 4 vs. placebo.",
        "NSAIDs, i.e. ibuprofen, help.",
        "Given i.v. Another sentence.",  # dotted initialism: treated as abbreviation
    ]
    # "no." / "Fig." only protect a following number
    assert sentences("The answer was no. The test ended.") == ["The answer was no.", "The test ended."]


@pytest.mark.unit
def test_split_not_inside_parentheses_and_lowercase_continuation() -> None:
    text = "Use it (see the label. Ask a doctor.) Then stop. The E. coli strain. done here."
    assert sentences(text) == [
        "Use it (see the label. Ask a doctor.)",
        "Then stop.",
        "The E. coli strain. done here.",
    ]


@pytest.mark.unit
def test_split_newlines_and_unbalanced_parenthesis() -> None:
    text = "Key points\n- first item\n\nParagraph (open. Next sentence here. " + "x " * 200 + "End. Last."
    got = sentences(text)
    assert got[:3] == ["Key points", "- first item", "Paragraph (open."]  # stray "(" ignored
    assert got[-1] == "Last."


@pytest.mark.unit
def test_split_spans_are_stripped_and_empty_for_blank() -> None:
    assert split_sentences("   ") == []
    text = "  A b.   C d.  "
    assert [text[s:e] for s, e in split_sentences(text)] == ["A b.", "C d."]


# -- config -------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize("kwargs", [{"max_tokens": 0}, {"overlap_tokens": -1}, {"max_tokens": 10, "overlap_tokens": 10}])
def test_config_validation(kwargs) -> None:
    with pytest.raises(ChunkingError) as err:
        ChunkingConfig(**kwargs)
    assert isinstance(err.value, IndexerError) and err.value.hint


@pytest.mark.unit
def test_config_round_trip() -> None:
    c = ChunkingConfig(max_tokens=128, overlap_tokens=16)
    assert ChunkingConfig.from_dict(c.to_dict()) == c


# -- chunks -------------------------------------------------------------------------------


def sentence(i: int, n_words: int = 9) -> str:
    return f"S{i} " + " ".join(f"w{i}x{j}" for j in range(n_words - 1)) + "."


@pytest.mark.unit
def test_empty_document_gives_no_passages() -> None:
    assert chunk_document(doc(""), regex_spans) == []
    assert chunk_document(doc("  \n\n \t"), regex_spans) == []


@pytest.mark.unit
def test_short_document_is_one_passage() -> None:
    d = doc("  Aspirin helps. It is cheap.  ")
    [p] = chunk_document(d, regex_spans)
    assert (p.text, p.start, p.end, p.order) == ("Aspirin helps. It is cheap.", 2, 29, 0)


@pytest.mark.unit
def test_packing_and_sentence_overlap() -> None:
    # 10 sentences of 10 tokens (9 words + "."); 35 tokens per chunk, overlap 10 tokens.
    text = " ".join(sentence(i) for i in range(10))
    d = doc(text)
    config = ChunkingConfig(max_tokens=35, overlap_tokens=10)
    passages = chunk_document(d, regex_spans, config)
    check_passages(d, passages, config=config)
    first_sentences = [p.text.split(".")[0].split()[0] for p in passages]
    assert first_sentences == ["S0", "S2", "S4", "S6", "S8"]
    # Each chunk after the first starts with the previous chunk's last sentence.
    assert passages[0].text.endswith(sentence(2)) and passages[1].text.startswith(sentence(2))
    assert all(len(regex_spans(p.text)) <= 35 for p in passages)


@pytest.mark.unit
def test_no_overlap_when_last_sentence_exceeds_overlap() -> None:
    text = " ".join(sentence(i, 20) for i in range(4))  # 21 tokens each
    d = doc(text)
    config = ChunkingConfig(max_tokens=45, overlap_tokens=10)
    passages = chunk_document(d, regex_spans, config)
    check_passages(d, passages, config=config)
    assert [p.text for p in passages] == [sentence(0, 20) + " " + sentence(1, 20), sentence(2, 20) + " " + sentence(3, 20)]


@pytest.mark.unit
def test_long_sentence_split_at_token_boundaries() -> None:
    long = "Start " + " ".join(f"tok{j}" for j in range(100)) + "."
    d = doc(f"Short one. {long} Tail sentence.")
    config = ChunkingConfig(max_tokens=30, overlap_tokens=5)
    passages = chunk_document(d, regex_spans, config)
    check_passages(d, passages, config=config)
    inner = [p for p in passages if "tok50" in p.text]
    assert inner and all(len(regex_spans(p.text)) <= 30 for p in passages)
    # consecutive windows of the long sentence overlap by 5 tokens
    w0, w1 = [p for p in passages if "tok" in p.text][:2]
    assert regex_spans(w0.text) and w0.text.split()[-5:] == w1.text.split()[:5]
    # every window starts and ends on a token boundary
    for p in passages:
        assert re.match(r"\w", p.text) and re.search(r"[\w.]$", p.text)


def three_char_pieces(text: str) -> list[tuple[int, int]]:
    """Word-piece stand-in: each word is cut into pieces of at most 3 characters."""
    return [(i, min(i + 3, m.end())) for m in re.finditer(r"\w+", text) for i in range(m.start(), m.end(), 3)]


@pytest.mark.unit
def test_long_sentence_windows_do_not_cut_words() -> None:
    # Cutting "hypertension" after a piece would re-tokenize differently from the count.
    d = doc(" ".join(["hypertension", "is", "bad"] * 30) + ".")
    config = ChunkingConfig(max_tokens=16, overlap_tokens=4)
    passages = chunk_document(d, three_char_pieces, config)
    check_passages(d, passages, token_spans=three_char_pieces, config=config)
    assert len(passages) > 3
    for p in passages:
        assert p.start == 0 or d.text[p.start - 1] == " "
        assert p.end == len(d.text) or d.text[p.end] == " "


@pytest.mark.unit
def test_untokenized_characters_between_windows_are_kept() -> None:
    long = " ".join(f"a{j} ;" for j in range(60))
    d = doc(long)
    config = ChunkingConfig(max_tokens=10, overlap_tokens=0)
    passages = chunk_document(d, words_only, config)
    check_passages(d, passages, token_spans=words_only, config=config)


@pytest.mark.unit
def test_chunk_ids_are_stable() -> None:
    d = doc(" ".join(sentence(i) for i in range(8)))
    a = chunk_document(d, regex_spans, ChunkingConfig(40, 10))
    b = chunk_document(d, regex_spans, ChunkingConfig(40, 10))
    assert [p.chunk_id for p in a] == [p.chunk_id for p in b]
    assert len({p.chunk_id for p in a}) == len(a)


_alphabet = st.sampled_from(list("abc XYZ.!?;,()-\n\t 0123 β") + ["e.g. ", "Dr. ", " et al. ", "2.5 ", "\n\n"])


@pytest.mark.unit
@settings(max_examples=150, deadline=None, database=None)
@given(
    text=st.lists(_alphabet, max_size=300).map("".join),
    max_tokens=st.integers(1, 40),
    overlap_frac=st.floats(0, 0.9),
)
def test_property_offsets_always_valid(text: str, max_tokens: int, overlap_frac: float) -> None:
    config = ChunkingConfig(max_tokens, min(max_tokens - 1, int(max_tokens * overlap_frac)))
    d = doc(text)
    passages = chunk_document(d, regex_spans, config)
    check_passages(d, passages, config=config)
    assert (passages == []) == (text.strip() == "")
    for s, e in split_sentences(text):
        assert text[s:e] == text[s:e].strip() and e > s


# -- Hugging Face adapter ------------------------------------------------------------------


@pytest.mark.integration
def test_hf_token_spans_long_text_no_warning_no_truncation(minilm_path: str, caplog) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path)
    spans_of = hf_token_spans(tok)
    text = "Hypercholesterolaemia treated with β-blockers. " * 300
    with caplog.at_level("WARNING"):
        spans = spans_of(text)
    assert not [r for r in caplog.records if "longer than" in r.getMessage()]
    assert len(spans) > tok.model_max_length
    assert spans[-1][1] == len(text.rstrip())
    assert all(text[s:e].strip() == text[s:e] and e > s for s, e in spans)
    d = doc(text.strip())
    config = ChunkingConfig(max_tokens=64, overlap_tokens=16)
    passages = chunk_document(d, spans_of, config)
    check_passages(d, passages, token_spans=spans_of, config=config)
    assert all(len(tok(p.text, add_special_tokens=False)["input_ids"]) <= 64 for p in passages)


@pytest.mark.unit
def test_hf_token_spans_rejects_slow_tokenizer() -> None:
    class Slow:
        is_fast = False

    with pytest.raises(ChunkingError):
        hf_token_spans(Slow())
