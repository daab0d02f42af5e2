"""common.datasets: one reader per format, the same text on every path, the same limits everywhere.

For each format a tiny file is written here; the indexing loader (indexer.loaders), the
training readers (reader.squad / reader.mlm / tasks.*) and the evaluation loaders
(pipeline.evaluation) must read the same text from it, and a file over a limit of
common.datasets.limits.LIMITS must be refused on every path with an error naming the file
and the limit.
"""
from __future__ import annotations

import dataclasses
import io
import json
import tarfile
from pathlib import Path

import pytest

import common.datasets.limits as limits
from common.datasets import (DatasetError, DatasetFormatError, DatasetLimitError, LIMITS, iter_jsonl, iter_medquad,
                             read_bioasq, read_conll, read_label_folder, read_pubmedqa, read_squad)
from common.errors import HintedError
from indexer.loaders import load_documents
from pipeline.evaluation.datasets import load_beir, load_qa_dataset
from pipeline.questions import read_queries
from reader.mlm import read_corpus
from reader.squad import load_squad
from tasks.classify import load_dataset as load_classification
from tasks.errors import TaskError
from tasks.ner import read_bio
from tasks.retriever import read_pairs
from tasks.yesno import read_bioasq as read_yesno_bioasq
from tasks.yesno import read_pubmedqa as read_yesno_pubmedqa

pytestmark = pytest.mark.unit

CONTEXTS = ("Aspirin lowers fever in adults.", "Metformin is first-line therapy for type 2 diabetes.")
QID = "5a6d186db750ff4455000031"


def _limit(monkeypatch, **kw) -> None:
    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(LIMITS, **kw))


def _refused(exc: BaseException, path: Path, limit: str) -> None:
    """A limit refusal: the shared error type, naming the file and the limit."""
    assert isinstance(exc, DatasetLimitError) and isinstance(exc, HintedError), type(exc)
    assert str(path) in exc.message and limit in exc.message and exc.limit == limit and exc.hint


def _indexer_refused(path: Path, limit: str) -> None:
    report = load_documents([path])
    assert not report.documents
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert str(path) in failure.path and limit in failure.reason


# -- SQuAD / BioASQ ----------------------------------------------------------------------------


def _squad(path: Path, ids=("q1", "q2"), answers=None) -> Path:
    paras = []
    for ctx, qid in zip(CONTEXTS, ids):
        ans = answers if answers is not None else [{"text": ctx.split()[0], "answer_start": 0}]
        paras.append({"context": ctx, "qas": [{"id": qid, "question": f"What about {qid}?", "answers": ans}]})
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": paras}]}), encoding="utf-8")
    return path


def test_squad_text_is_the_same_for_indexing_training_and_evaluation(tmp_path):
    f = _squad(tmp_path / "covid.json")
    raw = read_squad(f)
    assert [p.context for p in raw.paragraphs] == list(CONTEXTS)
    assert [(q.id, q.answers[0].text, q.answers[0].start) for _, q in raw.questions()] == [
        ("q1", "Aspirin", 0), ("q2", "Metformin", 0)]
    indexed = [d.text for d in load_documents([f]).documents]
    trained = [e.context for e in load_squad(f)]
    evaluated = [c.text for it in load_qa_dataset(f).items for c in it.contexts]
    pairs = [p for _, p in read_pairs(f)]
    mlm = read_corpus(f)
    assert indexed == trained == evaluated == pairs == mlm == list(CONTEXTS)


def test_bioasq_grouping_is_shared_by_evaluation_and_yes_no(tmp_path):
    f = _squad(tmp_path / "BioASQ-val-factoid.json", ids=(f"{QID}_001", f"{QID}_002"))
    (q,) = read_bioasq(f)
    assert q.id == QID and [s.context for s in q.snippets] == list(CONTEXTS) and q.answers == ("Aspirin", "Metformin")
    (item,) = load_qa_dataset(f).items
    assert item.id == q.id and item.answers == q.answers and [c.text for c in item.contexts] == list(CONTEXTS)
    yn = _squad(tmp_path / "BioASQ-val-yesno.json", ids=(f"{QID}_001", f"{QID}_002"), answers="yes")
    (verdict,) = read_yesno_bioasq(yn)
    assert verdict.contexts == CONTEXTS and verdict.label == "yes" == read_bioasq(yn)[0].verdict


def test_squad_over_the_file_limit_is_refused_on_every_path(tmp_path, monkeypatch):
    f = _squad(tmp_path / "big.json")
    _limit(monkeypatch, max_file_bytes=100)
    for read in (read_squad, load_squad, load_qa_dataset, lambda p: list(read_pairs(p)), read_corpus, read_bioasq):
        with pytest.raises(DatasetLimitError) as err:
            read(f)
        _refused(err.value, f, "max_file_bytes")
    _indexer_refused(f, "max_file_bytes")


def test_a_bad_squad_record_is_named_on_every_path(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{"qas": []}]}]}))
    for read in (load_squad, load_qa_dataset, lambda p: list(read_pairs(p)), read_corpus):
        with pytest.raises(DatasetFormatError, match=r"bad.json: record data\[0\].paragraphs\[0\]: .*'context'"):
            read(f)
    (failure,) = load_documents([f]).failures
    assert "data[0].paragraphs[0]" in failure.reason


# -- PubMedQA ----------------------------------------------------------------------------------


def _pubmedqa(path: Path) -> Path:
    path.write_text(json.dumps({"111": {"QUESTION": "Does aspirin lower fever?", "CONTEXTS": list(CONTEXTS),
                                        "LONG_ANSWER": "Yes, it does.", "final_decision": "yes", "YEAR": "2001",
                                        "MESHES": ["Aspirin"], "LABELS": ["BACKGROUND", "RESULTS"]}}))
    return path


def test_pubmedqa_contexts_are_the_same_for_indexing_training_and_evaluation(tmp_path):
    f = _pubmedqa(tmp_path / "ori_pqal.json")
    (rec,) = read_pubmedqa(f)
    assert rec.contexts == CONTEXTS and rec.long_answer == "Yes, it does." and rec.final_decision == "yes"
    (doc,) = load_documents([f]).documents
    assert doc.text == "\n\n".join(CONTEXTS + ("Yes, it does.",))  # the index: abstract + conclusion
    assert doc.metadata == {"pmid": "111", "mesh": ["Aspirin"], "section_labels": ["BACKGROUND", "RESULTS"], "year": "2001"}
    (item,) = read_yesno_pubmedqa(f)  # yes/no training and `clinqa eval yesno`: never the conclusion
    assert item.contexts == CONTEXTS and item.label == "yes" and item.question == doc.title
    assert list(read_pairs(f)) == [(doc.title, " ".join(CONTEXTS))]
    assert read_corpus(f) == [" ".join(CONTEXTS)]


def test_pubmedqa_over_the_file_limit_is_refused_on_every_path(tmp_path, monkeypatch):
    f = _pubmedqa(tmp_path / "ori_pqal.json")
    _limit(monkeypatch, max_file_bytes=50)
    for read in (read_pubmedqa, read_yesno_pubmedqa, lambda p: list(read_pairs(p)), read_corpus):
        with pytest.raises(DatasetLimitError) as err:
            read(f)
        _refused(err.value, f, "max_file_bytes")
    _indexer_refused(f, "max_file_bytes")


# -- MedQuAD -----------------------------------------------------------------------------------

_XML = """<?xml version="1.0"?>
<Document id="0000001" source="GARD" url="https://example.org/gout">
<Focus>Gout</Focus>
<QAPairs>
<QAPair pid="1"><Question qid="0000001-1" qtype="information">What is gout?</Question><Answer>{a1}</Answer></QAPair>
<QAPair pid="2"><Question qid="0000001-2" qtype="symptoms">What are the symptoms?</Question><Answer>{a2}</Answer></QAPair>
</QAPairs>
</Document>"""


def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """A .tar.gz at `path` holding `members` (name -> content)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _medquad(path: Path, n_files: int = 1) -> Path:
    xml = _XML.format(a1=CONTEXTS[0], a2=CONTEXTS[1]).encode()
    return _tar_gz(path, {f"1_GARD_QA/000000{i}.xml": xml for i in range(n_files)})


def test_medquad_answers_are_the_same_for_indexing_and_training(tmp_path):
    f = _medquad(tmp_path / "medquad.tar.gz")
    (doc,) = list(iter_medquad(f))
    assert [p.answer for p in doc.pairs] == list(CONTEXTS) and doc.collection == "GARD"
    indexed = load_documents([f]).documents
    assert [d.text for d in indexed] == list(CONTEXTS)
    assert [d.doc_id for d in indexed] == ["medquad:GARD/0000000_1", "medquad:GARD/0000000_2"]
    assert [p for _, p in read_pairs(f)] == list(CONTEXTS)  # retriever training
    assert read_corpus(f) == list(CONTEXTS)  # MLM pretraining


@pytest.mark.parametrize("limit, value, n_files", [("max_member_bytes", 100, 1), ("max_members", 1, 2),
                                                    ("max_decompressed_bytes", 100, 1), ("max_file_bytes", 100, 1)])
def test_medquad_over_a_limit_is_refused_on_every_path(tmp_path, monkeypatch, limit, value, n_files):
    f = _medquad(tmp_path / "medquad.tar.gz", n_files)
    _limit(monkeypatch, **{limit: value})
    with pytest.raises(DatasetLimitError) as err:  # MLM corpus (before: no limit at all)
        read_corpus(f)
    _refused(err.value, f, limit)
    report = load_documents([f])
    assert not report.documents and str(f) in report.failures[0].path and limit in report.failures[0].reason
    with pytest.raises(TaskError, match=limit):  # retriever training reads through the indexer's loader
        list(read_pairs(f))


# -- JSONL -------------------------------------------------------------------------------------


def test_jsonl_lines_are_the_same_for_indexing_training_and_evaluation(tmp_path):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"d{i}", "text": t, "question": f"q{i}?", "query": f"q{i}?",
                                        "positive": t}) + "\n\n" for i, t in enumerate(CONTEXTS)))
    assert [v["text"] for _, v in iter_jsonl(docs)] == list(CONTEXTS)
    assert [d.text for d in load_documents([docs]).documents] == list(CONTEXTS)
    assert [p for _, p in read_pairs(docs)] == list(CONTEXTS)
    assert [q.question for q in read_queries(docs)] == ["q0?", "q1?"]
    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text('{"_id": "d0", "text": "x"}\n')
    (beir / "queries.jsonl").write_text("".join(json.dumps({"_id": f"q{i}", "text": t}) + "\n" for i, t in enumerate(CONTEXTS)))
    (beir / "qrels.tsv").write_text("q0\td0\t1\nq1\td0\t1\n")
    assert list(load_beir(beir).queries.values()) == list(CONTEXTS)
    yn = tmp_path / "yesno.jsonl"
    yn.write_text(json.dumps({"id": "y", "question": "Q?", "answer": "no", "snippets": list(CONTEXTS)}) + "\n")
    assert read_yesno_bioasq(yn)[0].contexts == CONTEXTS


def test_a_jsonl_line_over_the_limit_is_refused_on_every_path(tmp_path, monkeypatch):
    f = tmp_path / "pairs.jsonl"
    f.write_text(json.dumps({"id": "a", "text": "ok", "query": "q", "positive": "p", "question": "q?", "answer": "yes",
                             "snippets": ["s"]}) + "\n"
                 + json.dumps({"id": "b", "text": "x" * 500, "query": "q", "positive": "p", "question": "q?"}) + "\n")
    _limit(monkeypatch, max_line_bytes=200)
    for read in (lambda p: list(iter_jsonl(p)), lambda p: list(read_pairs(p)), read_queries, read_yesno_bioasq):
        with pytest.raises(DatasetLimitError) as err:
            read(f)
        _refused(err.value, f, "max_line_bytes")
        assert err.value.line == 2
    report = load_documents([f])
    assert [d.doc_id for d in report.documents] == ["a"]  # the index keeps what came before
    assert report.failures[0].line == 2 and "max_line_bytes" in report.failures[0].reason


# -- BIO / CoNLL -------------------------------------------------------------------------------


def test_bio_files_read_the_same_for_training_and_evaluation(tmp_path):
    f = tmp_path / "train.tsv"
    f.write_text("-DOCSTART-\tO\n\nAspirin\tB-Chemical\nlowers\tO\nfever\tB-Disease\n\nGout\tB-Disease\n")
    sentences = read_conll(f)
    assert [s.tokens for s in sentences] == [("Aspirin", "lowers", "fever"), ("Gout",)]
    assert [s.tags for s in sentences] == [("B-Chemical", "O", "B-Disease"), ("B-Disease",)]
    assert read_bio(f) == sentences  # tasks.ner: training, `clinqa eval ner` and the comparison table


def test_a_bio_line_over_the_limit_is_refused(tmp_path, monkeypatch):
    f = tmp_path / "train.tsv"
    f.write_text("a\tO\n" + "b" * 300 + "\tO\n")
    _limit(monkeypatch, max_line_bytes=100)
    for read in (read_conll, read_bio):
        with pytest.raises(DatasetLimitError) as err:
            read(f)
        _refused(err.value, f, "max_line_bytes")


# -- classification folders --------------------------------------------------------------------


def _ohsumed(path: Path) -> Path:
    return _tar_gz(path, {f"ohsumed/{split}/{label}/{split}-{label}": f"  {text}\n".encode()
                          for split in ("training", "test")
                          for label, text in (("C01", CONTEXTS[0]), ("C14", CONTEXTS[1]))})


def test_classification_archive_and_folder_read_the_same(tmp_path):
    f = _ohsumed(tmp_path / "ohsumed.tar.gz")
    docs = read_label_folder(f, "test")
    assert [(d.label, d.text, d.name) for d in docs] == [("C01", CONTEXTS[0], "test-C01"), ("C14", CONTEXTS[1], "test-C14")]
    ds = load_classification(f, subdir="test")  # training (--dev) and `clinqa eval classify`
    assert [(e.labels, e.text) for e in ds.examples] == [(("C01",), CONTEXTS[0]), (("C14",), CONTEXTS[1])]
    folder = tmp_path / "unpacked"
    with tarfile.open(f) as tar:
        tar.extractall(folder, filter="data")
    assert load_classification(folder, subdir="test").examples == ds.examples


@pytest.mark.parametrize("limit, value", [("max_members", 3), ("max_member_bytes", 10), ("max_decompressed_bytes", 100)])
def test_classification_over_a_limit_is_refused(tmp_path, monkeypatch, limit, value):
    f = _ohsumed(tmp_path / "ohsumed.tar.gz")
    folder = tmp_path / "unpacked"
    with tarfile.open(f) as tar:
        tar.extractall(folder, filter="data")
    _limit(monkeypatch, **{limit: value})
    for path in (f, folder):
        with pytest.raises(DatasetLimitError) as err:
            load_classification(path, subdir="test")
        assert limit in err.value.message and str(path) in err.value.message  # the archive, or a file in the folder


# -- the errors themselves ---------------------------------------------------------------------


def test_errors_name_the_file_and_are_hinted(tmp_path):
    with pytest.raises(DatasetFormatError, match="nope.json: not found") as err:
        read_squad(tmp_path / "nope.json")
    assert isinstance(err.value, DatasetError) and isinstance(err.value, HintedError) and err.value.hint
    f = tmp_path / "x.jsonl"
    f.write_text('{"a": 1}\n{oops\n')
    with pytest.raises(DatasetFormatError, match="x.jsonl:2: invalid JSON"):
        list(iter_jsonl(f))
    latin = tmp_path / "l.json"
    latin.write_bytes('{"data": ["caf\xe9"]}'.encode("latin-1"))
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_squad(latin)
    with pytest.raises(ValueError, match="max_line_bytes"):
        dataclasses.replace(LIMITS, max_line_bytes=0)


@pytest.mark.unit
def test_an_unfinished_json_line_reports_its_own_column(tmp_path):
    """The parse error of a line cut short used to point past its line break ("column 1")."""
    from common.datasets import iter_jsonl_lines

    line = '{"id":"d3","title":"broken"'
    path = tmp_path / "docs.jsonl"
    path.write_text('{"id": "d1", "text": "ok"}\n' + line + "\n")
    rows = list(iter_jsonl_lines(path))
    assert rows[0].value == {"id": "d1", "text": "ok"}
    assert rows[1].line == 2 and f"(column {len(line) + 1})" in rows[1].error
