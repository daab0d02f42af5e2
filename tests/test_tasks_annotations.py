"""Annotation import/export: doccano and BRAT round trips, span -> BIO alignment and its
report (misaligned, overlapping, discontinuous), malformed files."""
import json

import pytest

from common.datasets import DatasetFormatError
from tasks.annotations import (
    AnnotatedDoc,
    ImportReport,
    Span,
    bio_to_docs,
    docs_to_bio,
    read_brat,
    read_doccano_classification,
    read_doccano_ner,
    read_texts,
    write_brat,
    write_doccano_classification,
    write_doccano_ner,
)
from tasks.errors import DataFormatError, TaskError

pytestmark = pytest.mark.unit

TEXT = "Naloxone reverses hypertension. Cisplatin-induced nephrotoxicity is common."
#       0       8        17          30 32       41 42     50            64


def _spans(text, *items):
    return tuple(Span(text.index(s), text.index(s) + len(s), l) for s, l in items)


DOC = AnnotatedDoc("d1", TEXT, _spans(TEXT, ("Naloxone", "Chemical"), ("hypertension", "Disease"),
                                       ("Cisplatin", "Chemical"), ("nephrotoxicity", "Disease")))


def test_doccano_round_trip_and_entities_variant(tmp_path):
    p = write_doccano_ner(tmp_path / "a.jsonl", [DOC])
    assert read_doccano_ner(p) == [DOC]
    line = json.loads(p.read_text())
    assert line["label"][0] == [0, 8, "Chemical"]
    # doccano's newer export: "entities" with start_offset/end_offset
    q = tmp_path / "b.jsonl"
    ents = [{"id": 1, "start_offset": s.start, "end_offset": s.end, "label": s.label} for s in DOC.spans]
    q.write_text(json.dumps({"id": "d1", "text": TEXT, "entities": ents, "relations": []}) + "\n")
    assert read_doccano_ner(q) == [DOC]


def test_brat_round_trip(tmp_path):
    out = write_brat(tmp_path / "brat", [DOC], scores=[[0.9, 0.8, 0.7, 0.6]])
    ann = (out / "d1.ann").read_text()
    assert ann.splitlines()[0] == "T1\tChemical 0 8\tNaloxone"
    assert "#1\tAnnotatorNotes T1\tscore=0.9000" in ann
    assert read_brat(out) == [DOC]
    assert read_brat(out / "d1.ann") == read_brat(out / "d1.txt") == [DOC]


def test_docs_to_bio_and_back():
    sents, rep = docs_to_bio([DOC])
    assert rep.problems == [] and rep.spans == rep.spans_written == 4 and rep.sentences == 2
    assert sents[0].tokens == ("Naloxone", "reverses", "hypertension", ".")
    assert sents[0].tags == ("B-Chemical", "O", "B-Disease", "O")
    assert sents[1].tokens[:4] == ("Cisplatin", "-", "induced", "nephrotoxicity")
    assert sents[1].tags[:4] == ("B-Chemical", "O", "O", "B-Disease")
    back = bio_to_docs(sents)
    assert [b.text[s.start : s.end] for b in back for s in b.spans] == ["Naloxone", "hypertension", "Cisplatin", "nephrotoxicity"]
    assert docs_to_bio(back)[0] == sents


def test_misaligned_overlapping_reported():
    text = "Severe hypertensive crisis in diabetics."
    doc = AnnotatedDoc("x", text, (Span(7, 14, "Disease"),  # "hyperte": edge inside a word
                                   Span(7, 26, "Disease"),  # "hypertensive crisis": fine
                                   Span(20, 26, "Disease"),  # "crisis": overlaps the previous one
                                   Span(30, 38, "Disease")))  # "diabetic" of "diabetics"
    sents, rep = docs_to_bio([doc])
    reasons = [(p["text"], p["reason"]) for p in rep.problems]
    assert reasons == [("hyperte", "misaligned: edge inside a word"), ("crisis", "overlaps another span"),
                       ("diabetic", "misaligned: edge inside a word")]
    assert sents[0].tags == ("O", "B-Disease", "I-Disease", "O", "O", "O")
    sents, rep = docs_to_bio([doc], misaligned="expand")
    # "hyperte" widens to "hypertensive" and is placed first, so the longer span now
    # overlaps it and "crisis" no longer does
    assert sents[0].tags == ("O", "B-Disease", "B-Disease", "O", "B-Disease", "O")
    assert [p["reason"] for p in rep.problems] == ["misaligned: expanded to word boundaries", "overlaps another span",
                                                  "misaligned: expanded to word boundaries"]


def test_sentences_never_split_inside_entity():
    text = "Treated with 5 mg. Naloxone later."
    doc = AnnotatedDoc("y", text, (Span(13, 18, "Dose"),))  # "5 mg." ends with the full stop
    sents, _ = docs_to_bio([doc])
    assert [s.tags for s in sents] == [("O", "O", "B-Dose", "I-Dose", "I-Dose"), ("O", "O", "O")]


def test_brat_discontinuous_policies(tmp_path):
    text = "Breast and ovarian cancer were studied."
    (tmp_path / "d.txt").write_text(text)
    (tmp_path / "d.ann").write_text(
        "T1\tDisease 0 6;19 25\tBreast cancer\n"
        "T2\tDisease 11 25\tovarian cancer\n"
        "R1\tRel Arg1:T1 Arg2:T2\n"
        "#1\tAnnotatorNotes T1\tnote\n"
    )
    rep = ImportReport()
    docs = read_brat(tmp_path, rep)  # default: skip
    assert docs[0].spans == (Span(11, 25, "Disease"),)
    assert rep.problems == [{"doc": "d", "start": 0, "end": 25, "label": "Disease", "text": "Breast cancer",
                             "reason": "discontinuous (skip)"}]
    split = read_brat(tmp_path, discontinuous="split")[0].spans
    assert split == (Span(0, 6, "Disease"), Span(11, 25, "Disease"), Span(19, 25, "Disease"))
    joined = read_brat(tmp_path, discontinuous="join")[0].spans
    assert joined == (Span(0, 25, "Disease"), Span(11, 25, "Disease"))
    sents, rep = docs_to_bio(read_brat(tmp_path, discontinuous="split"))
    assert sents[0].tags[:4] == ("B-Disease", "O", "B-Disease", "I-Disease") and len(rep.problems) == 1


@pytest.mark.parametrize(
    "ann, line, fragment",
    [
        ("T1\tDisease 0 6\tBreast\nT2 Disease 11 18 ovarian\n", 2, "not a BRAT annotation line"),
        ("T1\tDisease 0 7\tBreast\n", 1, "differs from"),
        ("T1\tDisease 0 99\tBreast\n", 1, "outside"),
    ],
)
def test_brat_malformed(tmp_path, ann, line, fragment):
    (tmp_path / "d.txt").write_text("Breast and ovarian cancer.")
    (tmp_path / "d.ann").write_text(ann)
    with pytest.raises(DataFormatError) as ei:
        read_brat(tmp_path)
    assert ei.value.line == line and f"d.ann:{line}" in str(ei.value) and fragment in str(ei.value)


def test_brat_missing_pieces(tmp_path):
    with pytest.raises(TaskError, match="no .ann files"):
        read_brat(tmp_path)
    (tmp_path / "a.ann").write_text("")
    with pytest.raises(DataFormatError, match="no text file a.txt"):
        read_brat(tmp_path)


@pytest.mark.parametrize(
    "content, line, fragment",
    [
        ('{"text": "abc", "label": [[0, 2, "X"]]}\n{"text": "abc", "label": [[0, 9, "X"]]}\n', 2, "outside the text"),
        ('{"text": "abc", "label": [[0, "X"]]}\n', 1, "bad span"),
        ('{"label": []}\n', 1, 'no "text" string'),
        ('{"text": "abc"\n', 1, "invalid JSON"),
    ],
)
def test_doccano_malformed(tmp_path, content, line, fragment):
    p = tmp_path / "x.jsonl"
    p.write_text(content)
    # a line that is not JSON: the shared reader's error (common.datasets); a bad record: the task's
    with pytest.raises(DatasetFormatError if fragment == "invalid JSON" else DataFormatError) as ei:
        read_doccano_ner(p)
    assert ei.value.line == line and f"x.jsonl:{line}" in str(ei.value) and fragment in str(ei.value)


def test_doccano_classification_round_trip(tmp_path):
    p = write_doccano_classification(tmp_path / "c.jsonl", ["chest pain", "rash and fever"], [["C14"], ["C17", "C01"]], ["a", "b"])
    ds = read_doccano_classification(p)
    assert ds.multi_label and [(e.id, e.labels) for e in ds.examples] == [("a", ("C14",)), ("b", ("C17", "C01"))]


def test_read_texts_variants(tmp_path):
    (tmp_path / "t.txt").write_text("first doc\n\nsecond doc\n")
    assert read_texts(tmp_path / "t.txt") == [("1", "first doc"), ("3", "second doc")]
    (tmp_path / "t.jsonl").write_text('{"id": "n1", "text": "note"}\n')
    assert read_texts(tmp_path / "t.jsonl") == [("n1", "note")]
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "z.txt").write_text("zz")
    assert read_texts(folder) == [("z", "zz")]
    with pytest.raises(TaskError, match="not found"):
        read_texts(tmp_path / "missing.jsonl")


@pytest.mark.integration
@pytest.mark.parametrize("corpus", ["ncbi-disease", "bc5cdr"])
def test_word_splitting_matches_shared_corpora(corpus):
    """Run-time text is split into the same words the NER corpora use: converting a dev
    file to spans and back gives the same tokens and tags."""
    from pathlib import Path

    from tasks.ner import read_bio

    path = Path("/work/shared/data/ner") / corpus / "devel.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    sents = read_bio(path)
    back, rep = docs_to_bio(bio_to_docs(sents))
    assert rep.problems == []
    flat = lambda ss: [(t, g) for s in ss for t, g in zip(s.tokens, s.tags)]  # noqa: E731
    assert flat(back) == flat(sents)
