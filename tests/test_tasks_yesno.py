"""tasks.yesno: PubMedQA / BioASQ readers, the PMID dev split, the training loop on a tiny
random model (fresh head and transfer from a 1-label pair model), int8 ONNX export and the
classifier that the pipeline uses."""
import json

import numpy as np
import pytest
import torch

from tasks.errors import DataFormatError, TaskError
from tasks.testing import make_tiny_base, make_tiny_sequence_classifier
from tasks.verdict import VerdictConfig
from tasks.yesno import (
    YesNoClassifier,
    YesNoTrainConfig,
    dataset_labels,
    detect_format,
    in_dev_split,
    load_base,
    load_yesno_dataset,
    predict_items,
    pubmedqa_split,
    read_bioasq,
    read_pubmedqa,
    score_items,
    strip_verdict_word,
    train_yesno,
)
from tasks.yesno import _features

LONG_ANSWER = "Metformin is safe and SECRET_CONCLUSION."


def write_pubmedqa(path, n=30):
    labels = ["yes", "no", "maybe"]
    data = {}
    for i in range(n):
        data[str(10000 + i)] = {
            "QUESTION": f"Does drug {i} reduce mortality in sepsis?",
            "CONTEXTS": [f"Background about drug {i}.", f"Patients given drug {i} had {'lower' if i % 3 == 0 else 'similar'} mortality."],
            "LABELS": ["BACKGROUND", "RESULTS"], "MESHES": [], "YEAR": "2001",
            "reasoning_required_pred": "yes", "reasoning_free_pred": "yes",
            "final_decision": labels[i % 3], "LONG_ANSWER": LONG_ANSWER,
        }
    path.write_text(json.dumps(data))
    return path


def write_bioasq_jsonl(path, n=8):
    rows = [{"id": f"q{i}", "question": f"Is gene {i} linked to cancer?", "answer": "yes" if i % 2 else "no",
             "snippets": [f"Gene {i} is mutated in tumours.", f"Gene {i} expression was measured."],
             "ideal_answer": [f"{'Yes' if i % 2 else 'No'}, gene {i} is {'' if i % 2 else 'not '}linked to cancer."]}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_bioasq_squad(path, n=6):
    paras = []
    for i in range(n):
        for k in range(2):
            paras.append({"context": f"Snippet {k} about protein {i} and disease.",
                          "qas": [{"id": f"{'a' * 20}{i:04d}_{k:03d}", "question": f"Is protein {i} a biomarker?",
                                   "answers": "yes" if i % 3 else "no", "is_impossible": False}]})
    path.write_text(json.dumps({"version": "BioASQ6b", "data": [{"title": "BioASQ6b", "paragraphs": paras}]}))
    return path


def make_reranker(out, base):
    """A 1-logit pair model shaped like a sentence-transformers CrossEncoder reranker."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(3)
    m = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
    m.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    return out


@pytest.mark.unit
def test_pubmedqa_reader_never_reads_the_long_answer(tmp_path):
    items = read_pubmedqa(write_pubmedqa(tmp_path / "p.json"))
    assert len(items) == 30 and {it.label for it in items} == {"yes", "no", "maybe"}
    assert all(LONG_ANSWER not in c for it in items for c in it.contexts)
    assert items[0].contexts[0].startswith("Background") and items[0].source == "pubmedqa"
    assert detect_format(tmp_path / "p.json") == "pubmedqa"


@pytest.mark.unit
def test_strip_verdict_word_keeps_the_statement():
    assert strip_verdict_word("No, gene 3 is not linked.") == "Gene 3 is not linked."
    assert strip_verdict_word("Yes. Baloxavir is approved.") == "Baloxavir is approved."
    assert strip_verdict_word("yes") == "" and strip_verdict_word("  NO!  ") == ""
    # Only a whole leading word is cut: "None", "Nothing", "Yesterday" stay.
    assert strip_verdict_word("None of the 13 patients responded.") == "None of the 13 patients responded."
    assert strip_verdict_word("Yesterday's trial failed.") == "Yesterday's trial failed."


@pytest.mark.unit
def test_conclusion_pairs_are_training_only(tmp_path, minilm_path):
    """--conclusion-pairs adds question + stated conclusion (PubMedQA LONG_ANSWER, BioASQ ideal
    answer without its yes/no word) to the training pairs; the passages a prediction reads
    (item_pairs) never hold it."""
    from transformers import AutoTokenizer

    from tasks.yesno import item_pairs

    tok = AutoTokenizer.from_pretrained(minilm_path)
    pub = read_pubmedqa(write_pubmedqa(tmp_path / "p.json", n=6))
    bio = read_bioasq(write_bioasq_jsonl(tmp_path / "b.jsonl", n=4))
    assert pub[0].conclusion == LONG_ANSWER and bio[0].conclusion == "Gene 0 is not linked to cancer."
    assert all(LONG_ANSWER not in p and "linked to cancer." not in p for it in pub + bio for p in item_pairs(it))
    l2i = {"yes": 0, "no": 1, "maybe": 2}
    plain = _features(tok, pub + bio, l2i, 64)
    with_c = _features(tok, pub + bio, l2i, 64, conclusion_pairs=True)
    assert len(with_c) == len(plain) + len(pub) + len(bio)
    texts = [tok.decode(f["input_ids"]) for f in with_c]
    assert sum("secret _ conclusion" in t or "secret_conclusion" in t for t in texts) == len(pub)
    # The conclusion pair carries its item's label.
    neg = [f for f, t in zip(with_c, texts) if "gene 0 is not linked" in t]
    assert len(neg) == 1 and neg[0]["labels"] == l2i["no"]


@pytest.mark.unit
def test_pubmedqa_dev_split_is_fixed_per_pmid(tmp_path):
    items = read_pubmedqa(write_pubmedqa(tmp_path / "p.json", n=200))
    train, dev = pubmedqa_split(items, 0.2)
    assert len(train) + len(dev) == 200 and 20 <= len(dev) <= 60
    assert not {it.id for it in train} & {it.id for it in dev}
    # Independent of order and of the other PMIDs.
    train2, dev2 = pubmedqa_split(list(reversed(items))[:50], 0.2)
    assert {it.id for it in dev2} == {it.id for it in dev} & {it.id for it in items[-50:]}
    assert all(in_dev_split(it.id, 0.2) for it in dev)
    with pytest.raises(TaskError):
        pubmedqa_split(items, 1.5)


@pytest.mark.unit
def test_bioasq_readers_group_snippets_per_question(tmp_path):
    j = read_bioasq(write_bioasq_jsonl(tmp_path / "b.jsonl"))
    assert len(j) == 8 and all(len(it.contexts) == 2 for it in j) and j[1].label == "yes"
    s = load_yesno_dataset(write_bioasq_squad(tmp_path / "b.json"))
    assert detect_format(tmp_path / "b.json") == "bioasq"
    assert len(s) == 6 and all(len(it.contexts) == 2 for it in s) and [it.label for it in s[:3]] == ["no", "yes", "yes"]
    assert dataset_labels(s) == ("yes", "no")


@pytest.mark.unit
def test_bad_labels_and_files_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "Is it?", "answer": "perhaps", "snippets": ["x"]}) + "\n")
    with pytest.raises(DataFormatError, match="bad.jsonl:1.*perhaps"):
        read_bioasq(bad)
    factoid = tmp_path / "f.json"
    factoid.write_text(json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [
        {"id": "x_001", "question": "Which?", "answers": [{"text": "c", "answer_start": 0}]}]}]}]}))
    with pytest.raises(DataFormatError, match="span answers"):
        read_bioasq(factoid)
    with pytest.raises(TaskError, match="not found"):
        load_yesno_dataset(tmp_path / "missing.json")
    with pytest.raises(TaskError, match="no training data"):
        YesNoTrainConfig(base="x", out_dir="y")


@pytest.mark.integration
def test_load_base_fresh_transfer_and_continued(tmp_path):
    base = make_tiny_base(tmp_path / "base")
    _, m, how = load_base(str(base))
    assert how == "fresh" and m.config.num_labels == 3
    # A 1-logit pair model (like a cross-encoder reranker): encoder kept, head re-initialised.
    reranker = make_reranker(tmp_path / "reranker", base)
    _, m, how = load_base(str(reranker))
    assert how == "transfer" and m.config.num_labels == 3
    from transformers import AutoModelForSequenceClassification

    ref = AutoModelForSequenceClassification.from_pretrained(str(reranker))
    enc_w = "bert.encoder.layer.0.attention.self.query.weight"
    assert np.allclose(m.state_dict()[enc_w].numpy(), ref.state_dict()[enc_w].numpy())
    # Three labels that are not yes/no/maybe: same shape, but the head is drawn afresh.
    topics = make_tiny_sequence_classifier(tmp_path / "topics", labels=("a", "b", "c"), base=base, head_scale=5.0)
    _, m, how = load_base(str(topics))
    assert how == "transfer" and float(m.classifier.weight.abs().max()) < 1.0
    with pytest.raises(TaskError, match="cannot load base"):
        load_base(str(tmp_path / "nothing"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("yesno")
    base = make_tiny_base(d / "base")
    cfg = YesNoTrainConfig(base=str(base), out_dir=str(d / "run"), pubmedqa=str(write_pubmedqa(d / "p.json")),
                           bioasq=(str(write_bioasq_jsonl(d / "b.jsonl")),), bioasq_dev=str(write_bioasq_squad(d / "v.json")),
                           max_steps=6, batch_size=8, max_seq_len=64, progress=False, threads=1, pubmedqa_repeat=2)
    metrics = train_yesno(cfg)
    return d, metrics


@pytest.mark.integration
def test_training_loop_writes_a_loadable_yesno_model(trained):
    d, metrics = trained
    run = d / "run"
    assert metrics["steps_done"] == 6 and metrics["init"] == "fresh"
    best = metrics["best"]
    assert {"pubmedqa_macro_f1", "bioasq_macro_f1", "dev_macro_f1"} <= set(best)
    assert best["dev_macro_f1"] == pytest.approx((best["pubmedqa_macro_f1"] + best["bioasq_macro_f1"]) / 2)
    info = json.loads((run / "task.json").read_text())
    assert info["task"] == "yesno" and info["labels"] == ["yes", "no", "maybe"] and info["max_seq_len"] == 64
    assert set(info["train_files"]) == {str(d / "p.json"), str(d / "b.jsonl")}
    # PubMedQA pairs: train abstracts x repeat; BioASQ: one pair per snippet.
    # PubMedQA: each train abstract x repeat (2), "maybe" ones x maybe_repeat (3) again.
    n_pub = sum(2 * (3 if i % 3 == 2 else 1) for i in range(30) if not in_dev_split(str(10000 + i)))
    assert metrics["train_examples"] == n_pub + 16
    clf = YesNoClassifier(run, backend="torch")
    probs = clf.predict("Is gene 1 linked to cancer?", ["Gene 1 is mutated.", "Unrelated text."])
    assert len(probs) == 2 and set(probs[0]) == {"yes", "no", "maybe"}
    assert all(abs(sum(p.values()) - 1) < 1e-5 for p in probs)


@pytest.mark.integration
def test_resume_continues_an_interrupted_run(tmp_path):
    base = make_tiny_base(tmp_path / "base")
    kw = dict(base=str(base), out_dir=str(tmp_path / "run"), bioasq=(str(write_bioasq_jsonl(tmp_path / "b.jsonl")),),
              max_steps=4, batch_size=4, max_seq_len=32, progress=False, threads=1)
    assert train_yesno(YesNoTrainConfig(**kw), interrupt_after=2) == {"interrupted_at": 2}
    metrics = train_yesno(YesNoTrainConfig(**kw, resume=True))
    assert metrics["steps_done"] == 4


@pytest.mark.integration
def test_int8_export_and_onnx_classifier_agree_with_torch(trained, tmp_path):
    from tasks.export import export_task_model

    d, _ = trained
    rep = export_task_model(d / "run", tmp_path / "yesno", onnx_only=True)
    assert (tmp_path / "yesno" / "model_int8.onnx").is_file() and rep["kind"] == "classify"
    assert json.loads((tmp_path / "yesno" / "task.json").read_text())["task"] == "yesno"
    onnx = YesNoClassifier(tmp_path / "yesno")
    assert onnx.backend_used.startswith("onnx")
    torch_clf = YesNoClassifier(d / "run", backend="torch")
    pairs = [("Is gene 3 linked to cancer?", "Gene 3 is mutated in tumours."), ("Does X help?", "No effect of X.")]
    a, b = onnx.predict_pairs(pairs), torch_clf.predict_pairs(pairs)
    for pa, pb in zip(a, b):
        assert max(abs(pa[l] - pb[l]) for l in pa) < 0.05


@pytest.mark.integration
def test_predict_items_gives_one_verdict_per_question(trained):
    d, _ = trained
    items = read_bioasq(d / "v.json")
    verdicts = predict_items(YesNoClassifier(d / "run", backend="torch"), items, VerdictConfig(labels=("yes", "no")))
    assert len(verdicts) == len(items) and all(v.label in ("yes", "no") for v in verdicts)
    assert all(len(v.evidence) == 2 for v in verdicts)
    res = score_items(items, verdicts)
    assert {"accuracy", "macro_f1", "per_class", "abstained", "answered_accuracy"} <= set(res)


@pytest.mark.integration
def test_a_model_that_is_not_yesno_is_refused(tmp_path):
    cls = make_tiny_sequence_classifier(tmp_path / "cls", labels=("C04", "C14"))
    with pytest.raises(TaskError, match="not a yes/no model"):
        YesNoClassifier(cls, backend="torch").warm_up()


@pytest.mark.unit
def test_encode_pair_keeps_the_question_and_the_end_of_a_long_passage(minilm_path):
    from transformers import AutoTokenizer

    from tasks.yesno import encode_pair

    tok = AutoTokenizer.from_pretrained(minilm_path)
    passage = "background " * 300 + "results show lower mortality"
    ids = encode_pair(tok, "Does drug X reduce mortality?", passage, 64)
    text = tok.decode(ids)
    assert len(ids) == 64 and text.startswith("[CLS] does drug x reduce mortality? [SEP]")
    assert text.endswith("results show lower mortality [SEP]")
    short = encode_pair(tok, "Is it?", "Yes it is.", 64)
    assert tok.decode(short) == "[CLS] is it? [SEP] yes it is. [SEP]"
    long_q = encode_pair(tok, "why " * 100, "short passage", 32)
    assert len(long_q) == 32 and tok.decode(long_q).endswith("short passage [SEP]")


@pytest.mark.integration
def test_frozen_embeddings_from_an_fp16_base_train_in_fp32(tmp_path):
    """A base stored in fp16 (as shipped models are) is trained in fp32 (AdamW on fp16 weights
    loses small updates), and --freeze-embeddings leaves the word embeddings as the base's."""
    from safetensors.torch import load_file, save_file

    base = make_tiny_base(tmp_path / "base")
    sd = load_file(str(base / "model.safetensors"))
    save_file({k: v.half() for k, v in sd.items()}, str(base / "model.safetensors"), metadata={"format": "pt"})
    cfg = YesNoTrainConfig(base=str(base), out_dir=str(tmp_path / "run"),
                           bioasq=(str(write_bioasq_jsonl(tmp_path / "b.jsonl")),), max_steps=3, batch_size=4,
                           max_seq_len=32, lr=1e-3, progress=False, threads=1, freeze_embeddings=True, device="cpu")
    train_yesno(cfg)
    out = load_file(str(tmp_path / "run" / "model.safetensors"))
    emb = out["bert.embeddings.word_embeddings.weight"]
    assert emb.dtype == torch.float32
    assert torch.equal(emb, sd["embeddings.word_embeddings.weight"].half().float())
    moved = out["bert.encoder.layer.0.attention.self.query.weight"]
    assert not torch.equal(moved, sd["encoder.layer.0.attention.self.query.weight"].half().float())
