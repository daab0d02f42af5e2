"""Continued MLM pretraining on a tiny random BERT and tiny corpora of every format."""
import io
import json
import tarfile

import pytest
import torch

from reader.errors import TrainingError
from reader.mlm import MLMConfig, make_blocks, mask_tokens, read_corpus, train_mlm
from reader.testing import make_tiny_qa_model, write_squad

pytestmark = pytest.mark.integration

TEXT = "Fever and dry cough are common symptoms. The incubation period is about five days."


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    d = tmp_path_factory.mktemp("mlm")
    squad = write_squad(d / "train.json", [(TEXT, "q?", "Fever")])
    pubmed = d / "pqal.json"
    pubmed.write_text(json.dumps({"1": {"CONTEXTS": ["Aspirin reduces fever.", "It is safe."], "QUESTION": "q"}}))
    xml = b'<Document><QAPairs><QAPair><Question>q</Question><Answer>Take  rest\n and fluids.</Answer></QAPair>' \
          b'<QAPair><Question>q2</Question><Answer></Answer></QAPair></QAPairs></Document>'
    tgz = d / "medquad.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        info = tarfile.TarInfo("1_X/0001.xml")
        info.size = len(xml)
        tar.addfile(info, io.BytesIO(xml))
    txt = d / "notes.txt"
    txt.write_text((TEXT + "\n") * 20)
    return d, [str(squad), str(pubmed), str(tgz), str(txt)]


def test_read_corpus_formats(corpora):
    _, (squad, pubmed, tgz, txt) = corpora
    assert read_corpus(squad) == [TEXT]
    assert read_corpus(pubmed) == ["Aspirin reduces fever. It is safe."]
    assert read_corpus(tgz) == ["Take rest and fluids."]  # empty answers skipped, spaces collapsed
    assert len(read_corpus(txt)) == 20
    with pytest.raises(TrainingError):
        read_corpus(txt + ".missing")


def test_train_mlm_and_fine_tune_base(corpora):
    d, files = corpora
    base = make_tiny_qa_model(d / "base")
    m = train_mlm(MLMConfig(base=str(base), corpus_files=tuple(files), out_dir=str(d / "mlm"), max_steps=3,
                            batch_size=4, max_seq_len=32, threads=1, progress=False))
    assert m["steps"] == 3 and m["blocks"] > 4
    from transformers import AutoModelForQuestionAnswering

    qa = AutoModelForQuestionAnswering.from_pretrained(d / "mlm")  # usable as --base for reader.train
    assert qa.config.hidden_size == 32


def test_blocks_and_masking(corpora):
    from transformers import AutoTokenizer

    from reader.testing import minilm_path

    tok = AutoTokenizer.from_pretrained(minilm_path())
    blocks = make_blocks(tok, [TEXT] * 10, 16)
    assert all(len(b) == 16 and b[0] == tok.cls_token_id and b[-1] == tok.sep_token_id for b in blocks)
    x = torch.tensor(blocks)
    inputs, labels = mask_tokens(x, tok, 0.15, torch.Generator().manual_seed(0))
    chosen = labels != -100
    assert chosen.any() and not chosen[:, 0].any() and not chosen[:, -1].any()
    assert torch.equal(labels[chosen], x[chosen])
    assert torch.equal(inputs[~chosen], x[~chosen])


def test_masked_only_loss_equals_full_loss(corpora):
    d, _ = corpora
    from transformers import AutoModelForMaskedLM

    from reader.mlm import _mlm_loss

    base = make_tiny_qa_model(d / "base2")
    model = AutoModelForMaskedLM.from_pretrained(base).eval()
    x = torch.randint(1000, 2000, (2, 12))
    labels = torch.full_like(x, -100)
    labels[0, 3], labels[1, 7] = 1500, 1600
    full = model(input_ids=x, attention_mask=torch.ones_like(x), labels=labels).loss
    assert torch.allclose(_mlm_loss(model, x, labels), full, atol=1e-5)
