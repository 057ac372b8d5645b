"""`vitrina predict --captions FILE.csv`: each photo's post words from a CSV file.

Columns `path,text` (the post's caption; optional `title`: a product title, as a shop's
storefront shows it; optional `network`: whose habits apply, e.g. instagram). A relative path is
looked up from the current folder and from the CSV's folder. Photos the file does not list get
no words; rows naming photos that are not being labelled are ignored (and counted).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from catalog.evidence import PostText

REQUIRED = ("path", "text")


class CaptionsError(ValueError):
    pass


@dataclass
class Captions:
    texts: dict[Path, PostText]  # resolved photo path → its words
    lines: dict[Path, int]  # resolved photo path → its line in the file

    def for_photos(self, photos: list[Path]) -> list[PostText | None]:
        return [self.texts.get(p.resolve()) for p in photos]

    def unused_lines(self, photos: list[Path]) -> int:
        """Rows that name none of `photos`."""
        used = {self.lines[k] for k in (p.resolve() for p in photos) if k in self.lines}
        return len(set(self.lines.values()) - used)


def read_captions(path: str | Path) -> Captions:
    path = Path(path)
    if not path.is_file():
        raise CaptionsError(f"captions file {path} not found")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in reader.fieldnames or ()]
            missing = [c for c in REQUIRED if c not in fields]
            if missing:
                raise CaptionsError(
                    f"{path}: missing column(s) {', '.join(missing)} (needs path,text; has "
                    f"{','.join(fields) or 'no header'})"
                )
            reader.fieldnames = fields
            out: dict[Path, PostText] = {}
            lines: dict[Path, int] = {}
            for line, row in enumerate(reader, start=2):
                name = (row.get("path") or "").strip()
                if not name:
                    raise CaptionsError(f"{path} line {line}: empty path")
                text = (row.get("text") or "").strip()
                title = (row.get("title") or "").strip()
                network = (row.get("network") or "").strip().lower()
                post = PostText(network=network, title=title, caption=text)
                for key in _candidates(Path(name), path.parent):
                    if key in out and out[key] != post:
                        raise CaptionsError(
                            f"{path} line {line}: {name} already has other words on line "
                            f"{lines[key]}"
                        )
                    out[key] = post
                    lines[key] = line
    except UnicodeDecodeError as exc:
        raise CaptionsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except csv.Error as exc:
        raise CaptionsError(f"{path}: not a readable CSV file ({exc})") from exc
    return Captions(out, lines)


def _candidates(name: Path, csv_dir: Path) -> set[Path]:
    if name.is_absolute():
        return {name.resolve()}
    return {name.resolve(), (csv_dir / name).resolve()}
