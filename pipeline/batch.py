"""Batch questions on Ray: `clinqa ask|search --queries FILE --ray` and `clinqa eval e2e --ray`.

The questions go through Ray Data `map_batches` on an actor pool; each actor opens the index
and loads the models once (`QAEngine.warm_up`) and answers its batches with the same
`QAEngine.ask` / `search` a single process uses, so the results are the same. Results come
back in the order of the questions.
"""
from __future__ import annotations

import copyreg
import logging
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from indexer.distributed import RayConfig, ray_session
from indexer.errors import IndexerError
from pipeline.engine import QAEngine

log = logging.getLogger(__name__)


def add_ray_args(p: Any, what: str) -> None:
    """`--ray`, `--ray-address`, `--ray-actors` on an argparse parser."""
    p.add_argument("--ray", action="store_true", help=f"run {what} on Ray (a local Ray unless --ray-address)")
    p.add_argument("--ray-address", default=None, help="a running Ray cluster, e.g. ray://head:10001 (with --ray)")
    p.add_argument("--ray-actors", type=int, default=2, help="actors per model stage (with --ray; default 2)")


def ray_config_from_args(args: Any) -> RayConfig | None:
    """A RayConfig from `--ray [--ray-address ADDR] [--ray-actors N]`, or None without --ray."""
    if not getattr(args, "ray", False):
        if getattr(args, "ray_address", None):
            raise IndexerError("--ray-address needs --ray", "add --ray, or drop --ray-address")
        return None
    return RayConfig(address=args.ray_address, actors=args.ray_actors)


# Results hold read-only mappings (Hit.ranks/scores): mappingproxy does not pickle by default, so
# teach pickle to rebuild one from a dict (registered in every process that imports this module,
# the actors included).
def _mapping_proxy(data: dict) -> MappingProxyType:
    return MappingProxyType(data)


copyreg.pickle(MappingProxyType, lambda m: (_mapping_proxy, (dict(m),)))


class QuestionStage:
    """One actor: an engine over the index, loaded once; answers a batch of questions."""

    def __init__(self, engine_config: Any, method: str, kwargs: dict[str, Any]) -> None:
        self.engine = QAEngine(engine_config).warm_up(with_reader=method == "ask")
        self.method, self.kwargs = method, kwargs

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        out = []
        for question in batch["question"]:
            result = getattr(self.engine, self.method)(str(question), **self.kwargs)
            out.append(result)
        return {"i": batch["i"], "result": np.asarray(out + [None], dtype=object)[:-1]}


def run_questions(engine_config: Any, questions: Sequence[str], method: str = "ask",
                  kwargs: dict[str, Any] | None = None, ray_config: RayConfig | None = None) -> list[Any]:
    """`QAEngine.<method>(question, **kwargs)` for every question on Ray; AskResult or
    SearchResult objects in the order of `questions`. Raises IndexerError when Ray cannot start."""
    if method not in ("ask", "search"):
        raise ValueError(f"method must be 'ask' or 'search', got {method!r}")
    config = ray_config or RayConfig()
    if not questions:
        return []
    rows = [{"i": i, "question": q} for i, q in enumerate(questions)]
    with ray_session(config) as ray:
        done = (
            ray.data.from_items(rows)
            .map_batches(QuestionStage, fn_constructor_kwargs={"engine_config": engine_config, "method": method,
                                                               "kwargs": dict(kwargs or {})},
                         compute=ray.data.ActorPoolStrategy(size=config.actors),
                         batch_size=max(1, min(config.batch_size, -(-len(rows) // config.actors))),
                         batch_format="numpy")
            .take_all()
        )
    by_index = {int(r["i"]): r["result"] for r in done}
    return [by_index[i] for i in range(len(questions))]
