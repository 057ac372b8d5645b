"""Batch inference: paths in, one row per photo out, bad files included as rows with a reason.

Decoding runs in a small thread pool (Pillow releases the GIL) one batch ahead of the model, and
the model runs once per batch through `classifier.runtime` (TFLite with XNNPACK on a CPU, Keras
on a GPU): that, JPEG draft decoding and a 192-pixel input are what make a 2-core CPU label
about two hundred photos a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from catalog.evidence import NO_EVIDENCE, PostText, TextEvidence
from classifier.fusion import HeadFeatures, decide, text_features, with_doubts
from classifier.images import DEFAULT_MAX_PIXELS, UnreadableImage, load_rgb
from classifier.model import VitrinaModel
from classifier.regions import Box, load_region_head
from classifier.runtime import make_runtime

AUTO, REVIEW, ERROR = "auto", "review", "error"


@dataclass
class Row:
    path: str
    category: str = ""
    category_confidence: float | None = None
    colour: str = ""
    colour_confidence: float | None = None
    decision: str = ERROR  # auto | review | error
    error: str = ""
    top: dict[str, list[list[Any]]] = field(default_factory=dict)  # head → [[label, p], ...]
    probs: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # full vectors
    # Per label: "auto" (published as it is) or "review" (a moderator is asked this label only).
    # `decision` is "auto" only when every head is.
    decisions: dict[str, str] = field(default_factory=dict)
    # The photo alone, before the shop's words were fused in (same form as `top`).
    image_top: dict[str, list[list[Any]]] = field(default_factory=dict)
    # The post's words and what they said (catalog.evidence.NO_EVIDENCE when there were none).
    evidence: TextEvidence = NO_EVIDENCE
    # head → True when confident words and a confident photo disagree (always "review").
    conflict: dict[str, bool] = field(default_factory=dict)
    # The photo's unit-length embedding for "more like this" (VitrinaModel.embed); None when
    # the photo could not be read.
    embedding: np.ndarray | None = field(default=None, repr=False)
    # The garments' boxes when the photo shows several (classifier.regions), else [].
    regions: list[Box] = field(default_factory=list)

    def as_dict(self, *, with_top: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "category": self.category,
            "category_confidence": None
            if self.category_confidence is None
            else round(self.category_confidence, 4),
            "colour": self.colour,
            "colour_confidence": None
            if self.colour_confidence is None
            else round(self.colour_confidence, 4),
            "decision": self.decision,
            "error": self.error,
        }
        if with_top:
            out["top"] = self.top
        return out

    def text_dict(self) -> dict[str, Any]:
        """What the words changed: per-label decisions, the shop's words, conflicts."""
        out: dict[str, Any] = {}
        for head in self.decisions:
            out[f"{head}_decision"] = self.decisions[head]
            out[f"{head}_text"] = self.evidence.summary(head)
            out[f"{head}_conflict"] = bool(self.conflict.get(head, False))
        return out


class Predictor:
    def __init__(
        self,
        model: VitrinaModel,
        *,
        batch_size: int = 64,
        thresholds: dict[str, float | None] | None = None,
        workers: int = 2,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        top_k: int = 3,
        runtime: str = "auto",
        regions: bool = True,
    ):
        self.model = model
        self.batch_size = batch_size
        self.thresholds = model.thresholds(thresholds)
        self.workers = workers
        self.max_pixels = max_pixels
        self.top_k = top_k
        # "auto" | "tflite" | "keras" ([classifier] runtime); .name says which one runs. One run
        # gives both labels and the pooled features (no second model for embeddings).
        self.runtime = make_runtime(model, runtime)
        # The garment-region head (regions.npz beside the model), fed by the same run.
        self.region_head = load_region_head(model.path) if regions else None

    # -- arrays ---------------------------------------------------------------------------

    def predict_arrays(self, pixels: np.ndarray) -> dict[str, Any]:
        """(N, S, S, 3) uint8 → calibrated {"category": (N, 17), "colour": (N, 13)} and
        "embedding": (N, D) unit vectors (from the pooled backbone features)."""
        if len(pixels) == 0:
            out = {h: np.zeros((0, len(v))) for h, v in self.model.labels.items()}
            return {**out, "embedding": np.zeros((0, self.model.embedding_dim), np.float32)}
        out: dict[str, Any] = dict(self.runtime.run(pixels))
        maps = {k: out.pop(k) for k in ("spatial", "spatial16") if k in out}
        if self.region_head is not None and len(maps) == 2:
            out["regions"] = self.region_head.regions(maps)
        out["embedding"] = self.model.embed(out.pop("features"), out["category"], out["colour"])
        return out

    def evidence_for(self, texts: Sequence[PostText | None] | None, n: int) -> list[TextEvidence]:
        """The words' clues per post (NO_EVIDENCE where a post has no words)."""
        if texts is None:
            return [NO_EVIDENCE] * n
        if len(texts) != n:
            raise ValueError(f"{len(texts)} texts for {n} photos: give one per photo (or None)")
        if all(t is None or t.is_empty() for t in texts):
            return [NO_EVIDENCE] * n
        from classifier.text import extract  # the lexicon loads only when words are given

        return [NO_EVIDENCE if t is None or t.is_empty() else extract(t) for t in texts]

    def rows_from_probs(
        self,
        paths: Sequence[str],
        probs: dict[str, Any],
        texts: Sequence[PostText | None] | None = None,
    ) -> list[Row]:
        """Rows from the image's probabilities and (optionally) each post's words. Where the
        words name nothing for a head, that head is decided exactly as without words."""
        labels = self.model.labels
        fusion = self.model.fusion
        evidence = self.evidence_for(texts, len(paths))
        networks = [t.network if t is not None else "" for t in texts or [None] * len(paths)]
        features = with_doubts(
            {
                head: HeadFeatures(
                    probs[head], text_features(evidence, head, labels[head]), networks
                )
                for head in ("category", "colour")
            }
        )
        decided = {}
        for head, x in features.items():
            head_fusion = fusion.heads.get(head) if fusion is not None else None
            decided[head] = decide(head_fusion, x, self.thresholds[head])
        rows = []
        for i, path in enumerate(paths):
            row = Row(str(path), decision=REVIEW, evidence=evidence[i])
            if "embedding" in probs:
                row.embedding = probs["embedding"][i]
            if "regions" in probs:
                row.regions = probs["regions"][i]
            for head in ("category", "colour"):
                d = decided[head]
                p = d.probs[i]
                order = np.argsort(-p)[: self.top_k]
                best = int(order[0])
                setattr(row, head, labels[head][best])
                setattr(row, f"{head}_confidence", float(p[best]))
                row.probs[head] = p
                row.top[head] = [[labels[head][int(k)], round(float(p[k]), 4)] for k in order]
                img = probs[head][i]
                img_order = np.argsort(-img)[: self.top_k]
                row.image_top[head] = [
                    [labels[head][int(k)], round(float(img[k]), 4)] for k in img_order
                ]
                row.decisions[head] = AUTO if d.auto[i] else REVIEW
                row.conflict[head] = bool(d.conflict[i])
            row.decision = AUTO if all(v == AUTO for v in row.decisions.values()) else REVIEW
            rows.append(row)
        return rows

    # -- files ----------------------------------------------------------------------------

    def _decode(self, path: Path) -> np.ndarray | str:
        try:
            return load_rgb(path, self.model.image_size, max_pixels=self.max_pixels)
        except UnreadableImage as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - one odd file must never stop the batch
            return f"cannot decode: {type(exc).__name__}: {exc}"

    def _batch_rows(
        self,
        paths: Sequence[Path],
        decoded: Sequence[np.ndarray | str],
        texts: Sequence[PostText | None] | None = None,
    ) -> list[Row]:
        ok = [i for i, d in enumerate(decoded) if not isinstance(d, str)]
        rows: list[Row] = [Row(str(p), error=str(d)) for p, d in zip(paths, decoded, strict=True)]
        if ok:
            probs = self.predict_arrays(np.stack([decoded[i] for i in ok]))
            ok_texts = None if texts is None else [texts[i] for i in ok]
            for j, row in zip(
                ok, self.rows_from_probs([str(paths[i]) for i in ok], probs, ok_texts), strict=True
            ):
                rows[j] = row
        return rows

    def predict_paths(
        self,
        paths: Iterable[str | Path],
        texts: Sequence[PostText | None] | None = None,
    ) -> Iterator[Row]:
        """One row per path, in order; decoding of the next batch overlaps the model's work.

        `texts`: each photo's post words, aligned with `paths` (None, or a None item: no words);
        with a fusion.json in the model folder they are fused with the photo per label."""
        paths = [Path(p) for p in paths]
        if texts is not None and len(texts) != len(paths):
            raise ValueError(f"{len(texts)} texts for {len(paths)} photos: give one per photo")
        batches = [paths[i : i + self.batch_size] for i in range(0, len(paths), self.batch_size)]
        with ThreadPoolExecutor(self.workers) as pool:

            def submit(batch: list[Path]) -> list[Future]:
                return [pool.submit(self._decode, p) for p in batch]

            pending = submit(batches[0]) if batches else []
            for k, batch in enumerate(batches):
                decoded = [f.result() for f in pending]
                pending = submit(batches[k + 1]) if k + 1 < len(batches) else []
                start = k * self.batch_size
                chunk = None if texts is None else texts[start : start + len(batch)]
                yield from self._batch_rows(batch, decoded, chunk)

    def predict_one(self, path: str | Path) -> Row:
        """One photo, one model call: the naive loop the benchmark compares against."""
        decoded = self._decode(Path(path))
        return self._batch_rows([Path(path)], [decoded])[0]
