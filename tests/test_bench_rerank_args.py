"""benchmarks/bench_rerank.py: its options are checked before any model loads, and by default it
measures the product's own blend beside the reranker alone."""
import argparse

import pytest

from retriever.rerank import RerankerConfig
from repo_scripts import load_script

pytestmark = pytest.mark.unit

bench = load_script("benchmarks/bench_rerank.py")


def test_blend_weight_parses_fused_or_a_number():
    assert bench.blend_weight("fused") is None and bench.blend_weight("0.7") == 0.7
    with pytest.raises(argparse.ArgumentTypeError, match="use 'fused'"):
        bench.blend_weight("foo")


@pytest.mark.parametrize("args, message", [
    (["--blend-dense-weights", "foo"], "use 'fused'"),
    (["--first-stage-weights", "1"], r"first_stage_weight must be in \[0, 1\)"),
    (["--blend-dense-weights", "1.5"], r"blend_dense_weight must be in \[0, 1\]"),
])
def test_bad_options_stop_before_models_load_with_a_readable_message(capsys, args, message):
    """Out-of-range weights are refused by RerankerConfig's own checks, at parse time."""
    import re

    with pytest.raises(SystemExit) as exc:
        bench.main(["--index", "/nonexistent", "--dataset", "x", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and re.search(message, err)
    assert "None" not in err  # the flags take 'fused', not Python's None


def test_default_run_names_include_the_products_blend():
    cfg = RerankerConfig()
    assert bench.run_name(20, cfg.first_stage_weight, cfg.blend_dense_weight) == "rerank@20 w=0.6 bd=0.7"
    assert bench.run_name(20, 0.0, 0.7) == "rerank@20"  # w = 0: the reranker alone, no blend
    assert bench.run_name(20, 0.3, None) == "rerank@20 w=0.3"
