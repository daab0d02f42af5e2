"""Evaluation dataset loading: BioASQ grouping, BEIR folders, and errors that name the record."""
import json

import pytest

from indexer.loaders import squad_doc_id
from pipeline.evaluation.datasets import detect_format, load_beir, load_qa_dataset, load_retrieval_dataset
import common.datasets as ds_readers
from pipeline.evaluation.errors import DatasetFormatError, EvaluationError

pytestmark = pytest.mark.unit

QID = "5a6d186db750ff4455000031"


def squad_file(path, paragraphs, title="t"):
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": title, "paragraphs": paragraphs}]}), encoding="utf-8")
    return path


def para(context, qid, question, answer):
    return {"context": context, "qas": [{"id": qid, "question": question,
                                         "answers": [{"text": answer, "answer_start": context.find(answer)}]}]}


def test_bioasq_items_are_grouped_by_question_with_all_spans_as_synonyms(tmp_path):
    f = squad_file(tmp_path / "BioASQ-val-factoid.json", [
        para("IL-6 rises in sepsis.", f"{QID}_001", "Which cytokine?", "IL-6"),
        para("Interleukin 6 is elevated.", f"{QID}_002", "Which cytokine?", "Interleukin 6"),
        para("TNF is a cytokine.", "5a6d186db750ff4455000032_001", "Name one", "TNF"),
    ], title="BioASQ6b")
    ds = load_qa_dataset(f)
    assert ds.format == "bioasq" and ds.question_type == "factoid"
    assert [it.id for it in ds.items] == [QID, "5a6d186db750ff4455000032"]
    first = ds.items[0]
    assert first.answers == ("IL-6", "Interleukin 6")
    assert [c.doc_id for c in first.contexts] == [squad_doc_id("BioASQ6b", "IL-6 rises in sepsis."),
                                                  squad_doc_id("BioASQ6b", "Interleukin 6 is elevated.")]
    assert len(ds.sha256) == 64
    assert load_qa_dataset(f, limit=1).items == ds.items[:1]
    assert load_qa_dataset(f, question_type="list").question_type == "list"
    retrieval = load_retrieval_dataset(f)
    assert retrieval.qrels[QID] == {c.doc_id: 1 for c in first.contexts}


def test_squad_items_keep_one_context_each(tmp_path):
    f = squad_file(tmp_path / "dev.json", [para("Masks reduce spread.", "dev-1", "What reduces spread?", "Masks")])
    ds = load_qa_dataset(f)
    assert ds.format == "squad" and ds.question_type == "extractive"
    assert ds.items[0].contexts[0].doc_id == squad_doc_id("t", "Masks reduce spread.")
    assert detect_format(["dev-1", f"{QID}_1"]) == "squad"


# Layout errors come from the shared reader (common.datasets), what evaluation needs on top from its own.
@pytest.mark.parametrize(
    "raw, where, expected, error",
    [
        ({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "q9", "question": "?", "answers": "yes"}]}]}]},
         "data[0].paragraphs[0].qas[0] (id q9)", "'answers' must be a list", EvaluationError),
        ({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "q9", "question": " ", "answers": []}]}]}]},
         "data[0].paragraphs[0].qas[0] (id q9)", "non-empty 'question'", EvaluationError),
        ({"data": [{"title": "t", "paragraphs": [{"qas": []}]}]}, "data[0].paragraphs[0]", "'context' string",
         ds_readers.DatasetFormatError),
        ({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "q1", "answers": []}]}]}]},
         "data[0].paragraphs[0].qas[0] (id q1)", "'question' string", ds_readers.DatasetFormatError),
        ({"version": "1.1"}, "(top level)", "'data' list", ds_readers.DatasetFormatError),
    ],
)
def test_bad_records_are_named_with_what_was_expected(tmp_path, raw, where, expected, error):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(raw))
    with pytest.raises(error) as err:
        load_qa_dataset(f)
    msg = err.value.message
    assert str(f) in msg and where in msg and expected in msg
    assert err.value.hint


def test_yes_no_files_get_a_specific_hint(tmp_path):
    f = squad_file(tmp_path / "yesno.json", [{"context": "c", "qas": [{"id": f"{QID}_1", "question": "?", "answers": "yes"}]}])
    with pytest.raises(DatasetFormatError, match="answers") as err:
        load_qa_dataset(f)
    assert "yes/no" in err.value.hint


def test_invalid_json_and_missing_file(tmp_path):
    f = tmp_path / "broken.json"
    f.write_text('{"data": [')
    with pytest.raises(ds_readers.DatasetFormatError, match="not valid JSON"):
        load_qa_dataset(f)
    with pytest.raises(DatasetFormatError, match="not found"):
        load_qa_dataset(tmp_path / "nope.json")


def test_bioasq_format_forced_on_ids_without_suffix(tmp_path):
    f = squad_file(tmp_path / "x.json", [para("c a", "plain", "q?", "a")])
    with pytest.raises(ds_readers.DatasetFormatError, match="<question id>_<n>"):
        load_qa_dataset(f, format="bioasq")


def write_beir(folder, qrels_text):
    folder.mkdir()
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "x"}\n{"_id": "d2", "text": "y"}\n')
    (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "first"}\n{"_id": "q2", "text": "second"}\n'
                                          '{"_id": "q3", "text": "unjudged"}\n')
    (folder / "qrels.tsv").write_text(qrels_text)
    return folder


def test_beir_folder_with_header_or_trec_qrels(tmp_path):
    ds = load_beir(write_beir(tmp_path / "b1", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n"))
    assert ds.queries == {"q1": "first", "q2": "second"}  # unjudged q3 dropped, as BEIR does
    assert ds.qrels == {"q1": {"d1": 1}, "q2": {"d2": 2}}  # relevance 0 is not relevant
    trec = load_beir(write_beir(tmp_path / "b2", "q1 0 d1 1\nq2 0 d2 2\n"))
    assert trec.qrels == ds.qrels
    with pytest.raises(DatasetFormatError, match="line 2"):  # qrels.tsv: evaluation's own format
        load_beir(write_beir(tmp_path / "b3", "q1\td1\t1\nq2 d2\n"))
    with pytest.raises(DatasetFormatError, match="not a BEIR/TREC folder: missing corpus.jsonl"):
        load_beir(tmp_path / "b1" / ".." / "nothing-here")
