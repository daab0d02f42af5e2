"""scripts/consumer_reader_data.py: our consumer-health span annotations -> SQuAD train/dev files."""
import json

import pytest

from reader.squad import load_squad
from repo_scripts import ROOT, load_script

pytestmark = pytest.mark.unit

crd = load_script("scripts/consumer_reader_data.py")

CTX = "Head lice are treated with permethrin lotion or malathion. Combing with a fine-tooth comb also helps."


def _rec(i: int, doc: str, answers: list[str], kind: str = "factoid") -> dict:
    return {"id": f"q{i}", "doc_id": doc, "chunk_id": f"c{i}", "title": "t", "context": CTX,
            "question": "What medicine treats head lice?", "answers": answers, "kind": kind}


def _dev_and_train_docs() -> tuple[str, str]:
    docs = [f"medquad:X/{i}" for i in range(200)]
    dev = next(d for d in docs if crd.is_dev_document(d, 0.15))
    train = next(d for d in docs if not crd.is_dev_document(d, 0.15))
    return dev, train


def test_check_record_names_the_problem():
    assert crd.check_record(_rec(1, "d", ["permethrin lotion"])) is None
    assert "not verbatim" in crd.check_record(_rec(1, "d", ["Permethrin cream"]))
    assert "answers" in crd.check_record(_rec(1, "d", []))
    assert "list of non-empty strings" in crd.check_record(_rec(1, "d", ["  "]))


def test_split_is_by_document_and_lists_expand_only_in_train():
    dev_doc, train_doc = _dev_and_train_docs()
    recs = [_rec(1, dev_doc, ["permethrin lotion", "malathion"], "list"),
            _rec(2, train_doc, ["permethrin lotion", "malathion", "a fine-tooth comb", "Combing"], "list")]
    dev = crd.to_squad(recs, "dev", 0.15)
    train = crd.to_squad(recs, "train", 0.15, max_list_items=3)
    dev_qas = [q for d in dev["data"] for p in d["paragraphs"] for q in p["qas"]]
    train_qas = [q for d in train["data"] for p in d["paragraphs"] for q in p["qas"]]
    assert [q["id"] for q in dev_qas] == ["q1"] and len(dev_qas[0]["answers"]) == 2
    assert [q["id"] for q in train_qas] == ["q2#0", "q2#1", "q2#2"]
    for q in train_qas:
        a = q["answers"][0]
        assert CTX[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"]


def test_cli_writes_loadable_squad_and_skips_bad_lines(tmp_path, capsys):
    dev_doc, train_doc = _dev_and_train_docs()
    src = tmp_path / "ann.jsonl"
    lines = [json.dumps(_rec(1, train_doc, ["malathion"])), "{not json",
             json.dumps(_rec(2, train_doc, ["ivermectin"])), json.dumps(_rec(3, dev_doc, ["malathion"]))]
    src.write_text("\n".join(lines) + "\n")
    assert crd.main(["--annotations", str(src), "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert f"{src}:2: not JSON" in err and f"{src}:3: answer(s) not verbatim" in err
    train = load_squad(tmp_path / "out" / "train.json")
    dev = load_squad(tmp_path / "out" / "dev.json")
    assert [e.answers for e in train] == [("malathion",)] and [e.id for e in dev] == ["q3"]


def test_bundled_annotations_are_valid_and_disjoint_from_held_out_pages():
    """Every shipped record is usable, and none comes from a page the reranker's corpus dev
    split or the consumer dev questions hold out."""
    from tasks.reranker import is_corpus_dev_document

    records, problems = crd.read_records(crd.DEFAULT_ANNOTATIONS)
    assert problems == [] and len(records) >= 300
    held = {json.loads(x)["doc_id"] for x in (ROOT / "benchmarks" / "data" / "consumer_dev_questions.jsonl")
            .read_text().splitlines() if x.strip()}
    assert not [r["doc_id"] for r in records if is_corpus_dev_document(r["doc_id"]) or r["doc_id"] in held]


def test_answer_start_prefers_a_whole_word_occurrence():
    ctx = "Complications include an abscessa painful lump. An abscess needs drainage."
    assert ctx[crd.answer_start(ctx, "abscess"):].startswith("abscess needs")
    assert crd.answer_start("xabscessx", "abscess") == 1


def test_a_file_without_one_usable_record_fails_and_writes_nothing(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"id": "q1"}\n')
    assert crd.main(["--annotations", str(src), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "missing or empty field(s) doc_id, context, question, answers" in err and "no usable record" in err
    assert not (tmp_path / "out").exists()
