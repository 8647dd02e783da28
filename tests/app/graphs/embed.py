"""A deterministic embeddings function for tests, offline: each word hashed into one of 16 dimensions."""

from __future__ import annotations

import hashlib

DIMS = 16


def embed(texts: list[str]) -> list[list[float]]:
    """Bag-of-words vectors: texts that share words point the same way."""
    vectors = []
    for text in texts:
        vector = [0.0] * DIMS
        for word in text.lower().split():
            vector[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % DIMS] += 1.0
        vectors.append(vector)
    return vectors
