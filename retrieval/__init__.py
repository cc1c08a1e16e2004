"""Retrieval: MiniLM embeddings stored in the workspace, searched through FAISS."""

from .embed import DIM, MODEL_ID, Embedder
from .index import Hit, Index

__all__ = ["Embedder", "Index", "Hit", "DIM", "MODEL_ID"]
