"""`clinqa train reader` and `clinqa train mlm` run end to end on a tiny random BERT."""
import json

import pytest

from reader.testing import make_tiny_qa_model, write_squad
from ui.cli import main

pytestmark = pytest.mark.integration

TEXT = "Aspirin reduces fever and pain. Metformin lowers blood glucose in type 2 diabetes."


def test_train_reader_and_mlm_from_the_cli(tmp_path, capsys):
    base = make_tiny_qa_model(tmp_path / "base")
    train = write_squad(tmp_path / "train.json", [(TEXT, "What lowers blood glucose?", "Metformin")] * 4)
    out = tmp_path / "reader"
    code = main(["train", "reader", "--base", str(base), "--train", str(train), "--dev", str(train),
                 "--out", str(out), "--max-steps", "2", "--batch-size", "2", "--threads", "1", "--no-progress"])
    assert code == 0
    assert (out / "config.json").is_file() and (out / "metrics.json").is_file()
    assert json.loads((out / "training_args.json").read_text())["max_steps"] == 2
    corpus = tmp_path / "corpus.txt"
    corpus.write_text((TEXT + "\n") * 20)
    mlm_out = tmp_path / "mlm"
    code = main(["train", "mlm", "--base", str(base), "--corpus", str(corpus), "--out", str(mlm_out),
                 "--max-steps", "2", "--batch-size", "2", "--max-seq-len", "32", "--threads", "1", "--no-progress"])
    assert code == 0 and (mlm_out / "config.json").is_file()
    capsys.readouterr()
