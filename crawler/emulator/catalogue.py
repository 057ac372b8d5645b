"""What the emulator serves: shops on each network, their posts (newest first) and photos.

Everything is generated from small integers so that a catalogue is reproducible and posts can
be added between crawls (`Catalogue.add_posts`) exactly like a shop posting something new.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from catalog.taxonomy import CATEGORIES, COLOURS
from crawler.emulator.captions import PostWords, write

# A labeller's "no category named" (the clothing dataset has both): the photo is real and its
# colour known, so the demo serves it, and its post gets no garment word.
UNSURE_CATEGORIES = ("Not sure", "Other")
# The committed demo photos (demo/make_photos.py): real, small, CC0; what `vitrina demo` serves.
DEMO_PHOTOS = Path(__file__).resolve().parents[2] / "demo" / "photos"

DEMO_NAMES = {"knitwear.bsky.social": "Knitwear Studio", "denimdept.bsky.social": "Denim Dept"}

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Photo variants beyond a plain garment: what real feeds throw at a crawler.
VARIANTS = (
    "plain",
    "exif",  # rotated by EXIF Orientation=6 and carrying GPS coordinates
    "resized",  # the same drawing as `of`, resized and re-encoded (a near-duplicate)
    "copy",  # byte-identical to `of` (an exact duplicate / repost)
    "tiny",  # a 48×48 icon
    "bomb",  # a PNG header claiming a huge pixel count (decompression bomb)
    "truncated",  # a JPEG cut short
    "corrupt",  # bytes that are no image at all
    "png",  # a plain garment served as PNG
)


@dataclass
class Photo:
    key: str
    category: str
    colour: str
    seed: int
    variant: str = "plain"
    of: str = ""  # for "resized"/"copy": the key of the original photo
    url_override: str = ""  # a photo URL pointing elsewhere (SSRF tests)
    real_path: str = ""  # with --images: a real photo file


@dataclass
class Post:
    n: int  # global creation order: larger = newer
    network: str
    handle: str
    caption: str
    photos: list[Photo]
    pinned: bool = False
    # Shopify products
    title: str = ""
    price: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    # Everything else the shop wrote (language, alt texts, options, body_html, link).
    words: PostWords | None = None
    # Fields served in place of the post's own (a malformed post: a caption that is an object…).
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def created_at(self) -> datetime:
        return EPOCH + timedelta(minutes=37 * self.n)


@dataclass
class Shop:
    network: str
    handle: str
    display_name: str
    account_id: str
    posts: list[Post] = field(default_factory=list)  # newest first

    @property
    def vendor(self) -> str:
        return self.display_name


@dataclass(frozen=True)
class RealPhoto:
    path: str
    category: str
    colour: str


def load_real_photos(images_dir: str | Path, labels_csv: str | Path) -> list[RealPhoto]:
    """Rows of a labels CSV (image,category,colour,…) whose file exists and labels are known."""
    images_dir = Path(images_dir)
    out = []
    with open(labels_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rel = row.get("image", "")
            path = images_dir / rel
            if not path.exists():
                path = images_dir / Path(rel).name
            known = row.get("category") in CATEGORIES + UNSURE_CATEGORIES
            if known and row.get("colour") in COLOURS and path.exists():
                out.append(RealPhoto(str(path), row["category"], row["colour"]))
    if not out:
        raise ValueError(
            f"no usable photos: {labels_csv} names no existing file under {images_dir}"
        )
    return out


def demo_photos() -> list[RealPhoto]:
    """The committed demo photos; a clear error if the checkout lacks them."""
    labels = DEMO_PHOTOS / "labels.csv"
    if not labels.is_file():
        raise ValueError(
            f"{labels} is missing: run `python -m demo.make_photos --data DATASET` to rebuild it"
        )
    return load_real_photos(DEMO_PHOTOS, labels)


class Catalogue:
    """Shops and posts; thread-safe so a test can add posts while the server answers."""

    def __init__(self, seed: int = 0, real_photos: list[RealPhoto] | None = None):
        self.seed = seed
        self.real_photos = real_photos or []
        self.shops: dict[tuple[str, str], Shop] = {}
        self.photos: dict[str, Photo] = {}
        self._n = 0
        self._lock = threading.RLock()

    # ---- building ------------------------------------------------------------------------

    def add_shop(self, network: str, handle: str, display_name: str = "") -> Shop:
        with self._lock:
            digest = hashlib.sha256(f"{network}:{handle}".encode()).hexdigest()
            account_id = {
                "mastodon": str(int(digest[:12], 16) % 10**9),
                "bluesky": "did:plc:" + digest[:24],
                "instagram": "178414" + str(int(digest[:12], 16) % 10**11).zfill(11),
                "shopify": digest[:8],
            }[network]
            # "knitwear.bsky.social" → "Knitwear", "harbour-wool" → "Harbour Wool"
            name = re.sub(r"[_\-]+", " ", handle.split(".")[0]).title()
            shop = Shop(network, handle, display_name or DEMO_NAMES.get(handle, name), account_id)
            self.shops[(network, handle)] = shop
            return shop

    def shop(self, network: str, handle: str) -> Shop | None:
        return self.shops.get((network, handle))

    def new_photo(self, variant: str = "plain", of: str = "", **kw: object) -> Photo:
        with self._lock:
            i = len(self.photos)
            key = f"p{i:06d}"
            if self.real_photos:
                real = self.real_photos[(i * 7919 + self.seed) % len(self.real_photos)]
                photo = Photo(key, real.category, real.colour, i, variant, of, real_path=real.path)
            else:
                h = int(hashlib.sha256(f"{self.seed}:{i}".encode()).hexdigest()[:8], 16)
                photo = Photo(
                    key,
                    CATEGORIES[h % len(CATEGORIES)],
                    COLOURS[(h // 17) % len(COLOURS)],
                    i + self.seed * 1_000_003,
                    variant,
                    of,
                )
            for k, v in kw.items():
                setattr(photo, k, v)
            self.photos[key] = photo
            return photo

    def add_posts(
        self,
        network: str,
        handle: str,
        count: int = 1,
        photos_per_post: int = 1,
        *,
        photos: list[Photo] | None = None,
        pinned: bool = False,
    ) -> list[Post]:
        """Publish `count` new posts (newest last added); returns them."""
        with self._lock:
            shop = self.shops[(network, handle)]
            made = []
            for _ in range(count):
                self._n += 1
                pics = (
                    photos
                    if photos is not None
                    else [self.new_photo() for _ in range(photos_per_post)]
                )
                rng = random.Random(f"{self.seed}:{network}:{handle}:{self._n}")
                words = write(rng, handle, [(p.category, p.colour) for p in pics])
                post = Post(
                    n=self._n,
                    network=network,
                    handle=handle,
                    caption=words.caption,
                    photos=list(pics),
                    pinned=pinned,
                    title=words.title,
                    price=words.price,
                    product_type=words.product_type,
                    tags=words.tags,
                    words=words,
                )
                shop.posts.insert(0, post)
                made.append(post)
            return made

    def post_count(self) -> int:
        return sum(len(s.posts) for s in self.shops.values())

    # ---- the demo --------------------------------------------------------------------------

    @classmethod
    def demo(
        cls,
        posts_per_shop: int = 30,
        photos_per_post: int = 2,
        seed: int = 0,
        real_photos: list[RealPhoto] | None = None,
        quirks: bool = True,
    ) -> Catalogue:
        """Two shops per network; with `quirks`, one shop also posts the awkward cases a real
        feed has: EXIF-rotated photos with GPS, reposts, resized copies, icons, broken files."""
        cat = cls(seed, real_photos)
        shops = {
            "instagram": ["atelier_lina", "nordic_knits"],
            "mastodon": ["linen_house", "vintage_rails"],
            "bluesky": ["knitwear.bsky.social", "denimdept.bsky.social"],
            "shopify": ["harbour-wool", "sunday-tees"],
        }
        for network, handles in shops.items():
            for handle in handles:
                cat.add_shop(network, handle)
        # Interleave posts across shops so timestamps look like real, concurrent posting.
        for _ in range(posts_per_shop):
            for network, handles in shops.items():
                for handle in handles:
                    # A Shopify product is one garment; a social post may show several.
                    per_post = 1 if network == "shopify" else photos_per_post
                    cat.add_posts(network, handle, 1, per_post)
        if quirks:
            cat.add_quirks("mastodon", "vintage_rails")
        return cat

    def add_quirks(self, network: str, handle: str) -> list[Post]:
        """Posts whose photos exercise validation, EXIF handling and de-duplication."""
        shop = self.shops[(network, handle)]
        original = next(p for post in shop.posts for p in post.photos if p.variant == "plain")
        pics = [
            [self.new_photo("exif")],
            [self.new_photo("copy", of=original.key)],
            [self.new_photo("resized", of=original.key)],
            [self.new_photo("tiny"), self.new_photo("corrupt")],
            [self.new_photo("truncated"), self.new_photo("bomb")],
        ]
        return [self.add_posts(network, handle, 1, photos=p)[0] for p in pics]
