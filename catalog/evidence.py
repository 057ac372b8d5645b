"""The shop's own words about a post, and what they say about its labels.

Two records cross parts here:

- `PostText` — the words of one post, field by field, as the crawler stored them (Shopify:
  title, product_type, tags, the variants' colour option values, body_html as text; social
  networks: caption and hashtags). Built from a catalogue `Post` (`PostText.from_post`) or
  from a caption file (`vitrina predict --captions`).
- `TextEvidence` — the clues that text gives for each head (`Clue`: label, source field, the
  words matched, strength), produced by `classifier.text` and stored with the photo's
  predictions, so moderators and the API can read "shop says: beige" without the lexicon.

Both are plain data: no lexicon, no model, no database session here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from catalog.taxonomy import HEADS, LABELS

# The fields a post's words come from, most specific first. Shopify's colour option values are
# stored as `colour:<value>` tags by the crawler and read back as the "options" source.
SOURCES: tuple[str, ...] = (
    "options",
    "title",
    "product_type",
    "tags",
    "hashtags",
    "caption",
    "body",
)
OPTION_TAG_PREFIX = "colour:"


@dataclass(frozen=True)
class PostText:
    """The words of one post. Every field may be empty; `network` tells whose habits apply."""

    network: str = ""
    title: str = ""
    product_type: str = ""
    tags: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # the variants' colour option values ("Beige", "Navy")
    caption: str = ""  # social caption, or a Shopify product's body_html as plain text

    @classmethod
    def from_post(cls, post: Any) -> PostText:
        """From a `catalog.models.Post` (or anything with its attributes)."""
        tags = tuple(str(t) for t in (getattr(post, "tags", None) or ()))
        options = tuple(
            t[len(OPTION_TAG_PREFIX) :] for t in tags if t.lower().startswith(OPTION_TAG_PREFIX)
        )
        plain = tuple(t for t in tags if not t.lower().startswith(OPTION_TAG_PREFIX))
        return cls(
            network=str(getattr(post, "network", "") or ""),
            title=str(getattr(post, "title", "") or ""),
            product_type=str(getattr(post, "product_type", "") or ""),
            tags=plain,
            options=options,
            caption=str(getattr(post, "caption", "") or ""),
        )

    @classmethod
    def caption_only(cls, text: str, network: str = "") -> PostText:
        return cls(network=network, caption=text)

    def is_empty(self) -> bool:
        return not (self.title or self.product_type or self.tags or self.options or self.caption)


@dataclass(frozen=True)
class Clue:
    """One mention of a label in the post's words."""

    head: str  # "category" | "colour"
    label: str  # one of catalog.taxonomy.LABELS[head]
    source: str  # one of SOURCES
    text: str  # the words matched, as written ("бежевая", "#blackdress")
    # 1.0: the words plainly name this label for the product; below 1: weak (the text names
    # several products, or the colour may belong to something else).
    strength: float = 1.0

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}")
        if self.label not in LABELS[self.head]:
            raise ValueError(f"unknown {self.head} {self.label!r}")
        if self.source not in SOURCES:
            raise ValueError(f"unknown text source {self.source!r}")
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"strength {self.strength} outside [0, 1]")


@dataclass(frozen=True)
class TextEvidence:
    """Every clue found in one post's words, per head."""

    clues: tuple[Clue, ...] = ()
    # Heads for which the text named several different labels plainly (an outfit, a bundle):
    # the fusion treats such text as no evidence for that head.
    ambiguous: frozenset[str] = field(default_factory=frozenset)

    def for_head(self, head: str) -> tuple[Clue, ...]:
        return tuple(c for c in self.clues if c.head == head)

    def scores(self, head: str) -> dict[str, float]:
        """label → the strongest clue's strength for it (0 when ambiguous)."""
        if head in self.ambiguous:
            return {}
        out: dict[str, float] = {}
        for c in self.for_head(head):
            out[c.label] = max(out.get(c.label, 0.0), c.strength)
        return out

    def best(self, head: str) -> tuple[str, float] | None:
        """The label the words name for `head`, with its strength; None when they name none
        (or several: see `ambiguous`)."""
        scores = self.scores(head)
        if not scores:
            return None
        label = max(scores, key=lambda k: scores[k])
        return label, scores[label]

    def summary(self, head: str) -> str:
        """What moderators read: 'shop says: beige (options, title)'."""
        best = self.best(head)
        if best is None:
            return "shop says: several" if head in self.ambiguous else ""
        sources = sorted(
            {c.source for c in self.for_head(head) if c.label == best[0]}, key=SOURCES.index
        )
        return f"shop says: {best[0]} ({', '.join(sources)})"

    # -- storage: JSON in the catalogue -----------------------------------------------------

    def head_json(self, head: str) -> dict[str, Any]:
        """One head's evidence as stored on its Prediction row."""
        return {
            "clues": [asdict(c) for c in self.for_head(head)],
            "ambiguous": head in self.ambiguous,
        }

    @classmethod
    def from_head_json(cls, items: Mapping[str, Mapping[str, Any]]) -> TextEvidence:
        """Rebuild from {head: head_json(head)} as read back from the catalogue."""
        clues: list[Clue] = []
        ambiguous: set[str] = set()
        for head, data in items.items():
            if not data:
                continue
            clues.extend(Clue(**c) for c in data.get("clues", ()))
            if data.get("ambiguous"):
                ambiguous.add(head)
        return cls(tuple(clues), frozenset(ambiguous))

    @classmethod
    def of(cls, clues: Iterable[Clue], ambiguous: Iterable[str] = ()) -> TextEvidence:
        return cls(tuple(clues), frozenset(ambiguous))


NO_EVIDENCE = TextEvidence()
