"""benchmarks/bench_list_items.py: the item scoring behind the list rule's measurement."""
import pytest

from repo_scripts import load_script

bench = load_script("benchmarks/bench_list_items.py")

pytestmark = pytest.mark.unit


def test_item_scores_match_items_to_gold_answers_by_squad_f1():
    golds = ["blurred vision", "eye pain", "halos around lights"]
    p, r, f = bench.item_scores(["blurred vision", "halos", "Autosomal dominant inheritance"], golds)
    assert p == pytest.approx(2 / 3) and r == pytest.approx(2 / 3) and f == pytest.approx(2 / 3)
    assert bench.item_scores([], golds) == (0.0, 0.0, 0.0)
    assert bench.item_scores(["eye pain", "pain of the eye"], ["eye pain"])[:2] == (1.0, 1.0)
