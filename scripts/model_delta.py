"""Ship a fine-tuned model as a delta from its base: every tensor except the word embeddings.

A model trained with `--freeze-embeddings` keeps its base's word-embedding matrix
(30,522 x 384 for MiniLM, half of its 22.7M parameters). `pack` writes the other tensors
(fp16, in safetensors shards of at most `--max-part-mb`) plus the model's small files and
`delta.json`, which names each omitted tensor, the base tensor it equals and that tensor's
sha256; `unpack` rebuilds a plain Hugging Face model directory from base + delta and
refuses a base whose tensor differs. Why: a training machine (a lent GPU) returns at most
64 MiB per call in files of 16 MiB, less than two full MiniLM models.

    python scripts/model_delta.py pack   --base BASE_DIR --model RUN_DIR --out PACK_DIR
    python scripts/model_delta.py unpack --base BASE_DIR --delta PACK_DIR --out MODEL_DIR

Weights are stored as float16 both ways (the dtype the repo ships models in); loaders
read them back as float32 (`dtype=torch.float32`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from common.cliparse import parse_args

WEIGHTS = "model.safetensors"
MANIFEST = "delta.json"
SKIP_FILES = {WEIGHTS, MANIFEST}


class DeltaError(Exception):
    """A pack or unpack that cannot be done; the message says why and what to pass instead."""


def _load(path: Path) -> dict:
    from safetensors.torch import load_file

    if not path.is_file():
        raise DeltaError(f"no {path.name} in {path.parent}: pass a Hugging Face model directory")
    return load_file(str(path))


def _sha(t) -> str:
    return hashlib.sha256(t.contiguous().cpu().numpy().tobytes()).hexdigest()


def _base_match(name: str, base: dict) -> str | None:
    """The base key a model key corresponds to: same name, or the name without the task
    model's prefix (`bert.embeddings.word_embeddings.weight` -> `embeddings.word_embeddings.weight`)."""
    if name in base:
        return name
    parts = name.split(".")
    for i in range(1, len(parts)):
        cand = ".".join(parts[i:])
        if cand in base:
            return cand
    return None


def pack(base_dir: Path, model_dir: Path, out: Path, max_part_mb: float = 15.0) -> dict:
    """Write model minus the tensors equal (in fp16) to the base's into `out`; returns the manifest.
    Raises DeltaError when a directory holds no model.safetensors."""
    import torch
    from safetensors.torch import save_file

    base = {k: v.to(torch.float16) for k, v in _load(base_dir / WEIGHTS).items()}
    model = {k: v.to(torch.float16) for k, v in _load(model_dir / WEIGHTS).items()}
    out.mkdir(parents=True, exist_ok=True)
    omitted, kept = {}, {}
    for name, t in model.items():
        b = _base_match(name, base)
        if b is not None and base[b].shape == t.shape and torch.equal(base[b], t):
            omitted[name] = {"base_key": b, "sha256": _sha(t), "shape": list(t.shape)}
        else:
            kept[name] = t.contiguous()
    limit = int(max_part_mb * 2**20)
    parts: list[dict] = []
    for name, t in sorted(kept.items()):
        size = t.numel() * t.element_size()
        if not parts or (parts[-1]["bytes"] + size > limit and parts[-1]["tensors"]):
            parts.append({"tensors": {}, "bytes": 0})
        parts[-1]["tensors"][name] = t
        parts[-1]["bytes"] += size
    names = []
    for i, part in enumerate(parts):
        fname = f"delta-{i:02d}.safetensors"
        save_file(part["tensors"], str(out / fname), metadata={"format": "pt"})
        names.append(fname)
    for f in model_dir.iterdir():
        if f.is_file() and f.name not in SKIP_FILES:
            shutil.copy2(f, out / f.name)
    manifest = {"dtype": "float16", "omitted": omitted, "parts": names, "tensors": len(model)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def unpack(base_dir: Path, delta_dir: Path, out: Path) -> Path:
    """Rebuild `out`/model.safetensors (fp16) from base + delta, with the delta's other files.
    Raises DeltaError when the manifest is missing or a base tensor's sha256 differs."""
    import torch
    from safetensors.torch import save_file

    mf = delta_dir / MANIFEST
    if not mf.is_file():
        raise DeltaError(f"{mf} not found: pass the directory written by `model_delta.py pack`")
    manifest = json.loads(mf.read_text())
    base = _load(base_dir / WEIGHTS)
    tensors = {}
    for part in manifest["parts"]:
        tensors.update(_load(delta_dir / part))
    for name, info in manifest["omitted"].items():
        if info["base_key"] not in base:
            raise DeltaError(f"base {base_dir} has no tensor {info['base_key']}: pass the base the model was trained from")
        t = base[info["base_key"]].to(torch.float16)
        if _sha(t) != info["sha256"]:
            raise DeltaError(f"base tensor {info['base_key']} differs from the one the model was trained with: "
                             "pass the same base directory as at training time")
        tensors[name] = t
    if len(tensors) != manifest["tensors"]:
        raise DeltaError(f"delta is incomplete: {len(tensors)} of {manifest['tensors']} tensors")
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / WEIGHTS), metadata={"format": "pt"})
    for f in delta_dir.iterdir():
        if f.is_file() and f.name != MANIFEST and f.name not in manifest["parts"]:
            shutil.copy2(f, out / f.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", allow_abbrev=False)
    p.add_argument("--base", required=True, type=Path)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--max-part-mb", type=float, default=15.0)
    u = sub.add_parser("unpack", allow_abbrev=False)
    u.add_argument("--base", required=True, type=Path)
    u.add_argument("--delta", required=True, type=Path)
    u.add_argument("--out", required=True, type=Path)
    args = parse_args(parser, argv)
    try:
        if args.cmd == "pack":
            m = pack(args.base, args.model, args.out, args.max_part_mb)
            print(json.dumps({"out": str(args.out), "omitted": list(m["omitted"]), "parts": m["parts"]}))
        else:
            print(json.dumps({"out": str(unpack(args.base, args.delta, args.out))}))
    except DeltaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
