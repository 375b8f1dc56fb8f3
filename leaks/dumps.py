"""Reading a leaked dump: Mastodon status JSON, X/Twitter-style JSON with ``text``, JSON lines,
CSV with a text column, or plain text with one post per line.

Each item keeps what can identify one of our posts: an id and a URL when the dump has them
(they are checked against the text before they are believed, see ``matching``), and the text.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

FORMATS = ("auto", "json", "jsonl", "csv", "text")
TEXT_KEYS = ("content", "full_text", "text", "body", "post", "status", "message")
URL_KEYS = ("url", "uri", "link", "permalink")
LIST_KEYS = ("statuses", "data", "items", "posts", "orderedItems", "results", "tweets")
MAX_ITEMS = 100_000


class DumpError(ValueError):
    """The dump cannot be read; the message says why, for a person."""


@dataclass(frozen=True)
class DumpItem:
    """One leaked post as the dump has it."""

    text: str
    post_id: str = ""
    url: str = ""


def dump_parse(data: bytes | str, *, fmt: str = "auto") -> list[DumpItem]:
    """The items of a dump in ``fmt`` ("auto": JSON, then JSON lines, then CSV, then text)."""
    if fmt not in FORMATS:
        raise DumpError(f"Unknown format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DumpError("The dump is not UTF-8 text.") from exc
    if not data.strip():
        raise DumpError("The dump is empty.")
    if fmt == "auto":
        fmt = _sniff(data)
    parse = {"json": _json, "jsonl": _jsonl, "csv": _csv, "text": _text}[fmt]
    items = [item for item in parse(data) if item.text or item.post_id or item.url]
    if not items:
        raise DumpError(f"No posts found in the dump (read as {fmt}).")
    if len(items) > MAX_ITEMS:
        raise DumpError(f"The dump has {len(items):,} posts; at most {MAX_ITEMS:,} are traced.")
    return items


def _sniff(data: str) -> str:
    stripped = data.lstrip()
    if stripped[:1] in "[{":
        try:
            json.loads(data)
            return "json"
        except ValueError:
            if all(_is_json_object(line) for line in data.splitlines() if line.strip()):
                return "jsonl"
    first = data.splitlines()[0]
    if "," in first or "\t" in first:
        try:
            header = next(csv.reader([first], dialect=_dialect(data)))
        except csv.Error:
            header = []
        if any(name.strip().lower() in TEXT_KEYS for name in header):
            return "csv"
    return "text"


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _item(obj) -> DumpItem | None:
    """One status object (Mastodon, X-style or similar) as an item; a reblog's original."""
    if isinstance(obj, str):
        return DumpItem(text=obj)
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("reblog"), dict):
        obj = obj["reblog"]
    text = next((obj[key] for key in TEXT_KEYS if isinstance(obj.get(key), str)), "")
    url = next((obj[key] for key in URL_KEYS if isinstance(obj.get(key), str)), "")
    raw_id = obj.get("id", obj.get("id_str", ""))
    post_id = str(raw_id) if isinstance(raw_id, int | str) else ""
    return DumpItem(text=text, post_id=post_id, url=url)


def _json(data: str) -> list[DumpItem]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise DumpError(f"The dump is not valid JSON: {exc}.") from exc
    if isinstance(value, dict):
        inner = next((value[key] for key in LIST_KEYS if isinstance(value.get(key), list)), None)
        value = inner if inner is not None else [value]
    if not isinstance(value, list):
        raise DumpError("The JSON dump must be a list of posts or an object holding one.")
    return [item for item in map(_item, value) if item is not None]


def _jsonl(data: str) -> list[DumpItem]:
    items = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = _item(json.loads(line))
        except ValueError as exc:
            raise DumpError(f"Line {number} is not valid JSON: {exc}.") from exc
        if item is not None:
            items.append(item)
    return items


def _dialect(data: str):
    try:
        return csv.Sniffer().sniff(data[:4096], delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _csv(data: str) -> list[DumpItem]:
    reader = csv.DictReader(io.StringIO(data), dialect=_dialect(data))
    fields = {name.strip().lower(): name for name in reader.fieldnames or []}
    text_field = next((fields[key] for key in TEXT_KEYS if key in fields), None)
    if text_field is None:
        raise DumpError(
            "The CSV dump has no text column: name one of " + ", ".join(TEXT_KEYS) + "."
        )
    url_field = next((fields[key] for key in URL_KEYS if key in fields), None)
    id_field = fields.get("id")
    try:
        return [
            DumpItem(
                text=row.get(text_field) or "",
                post_id=(row.get(id_field) or "") if id_field else "",
                url=(row.get(url_field) or "") if url_field else "",
            )
            for row in reader
        ]
    except csv.Error as exc:
        raise DumpError(f"The CSV dump cannot be read: {exc}.") from exc


def _text(data: str) -> list[DumpItem]:
    return [DumpItem(text=line) for line in data.splitlines() if line.strip()]
