"""Telegram text formatting: UTF-16 lengths and HTML / MarkdownV2 / Markdown entity parsing.

Offsets and lengths of entities are counted in UTF-16 code units, as Telegram does, and
error texts follow Telegram's "can't parse entities: ..." wording.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import bad_request


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (characters beyond the BMP count twice)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class EntityParseError(Exception):
    pass


PARSE_MODES = {"html": "HTML", "markdownv2": "MarkdownV2", "markdown": "Markdown"}


def normalize_parse_mode(parse_mode: str | None) -> str | None:
    if parse_mode is None or parse_mode == "":
        return None
    mode = PARSE_MODES.get(parse_mode.strip().lower())
    if mode is None:
        raise bad_request("unsupported parse_mode")
    return mode


@dataclass
class _Out:
    parts: list[str] = field(default_factory=list)
    pos: int = 0  # UTF-16 position

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.pos += utf16_len(text)

    def text(self) -> str:
        return "".join(self.parts)


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8", "surrogatepass"))


def format_text(
    text: str,
    parse_mode: str | None,
    explicit_entities: list[dict[str, Any]] | None = None,
    *,
    strip: bool = True,
) -> tuple[str, list[dict[str, Any]]]:
    """Parse ``text`` as Telegram would and return ``(plain_text, entities)``.

    Raises ``ApiError`` 400 "can't parse entities: ..." on malformed markup.
    """
    if explicit_entities is not None:
        plain, entities = text, [dict(e) for e in explicit_entities]
    elif parse_mode == "HTML":
        plain, entities = _guard(parse_html, text)
    elif parse_mode == "MarkdownV2":
        plain, entities = _guard(parse_markdown_v2, text)
    elif parse_mode == "Markdown":
        plain, entities = _guard(parse_markdown, text)
    else:
        plain, entities = text, []
    if strip:
        plain, entities = _strip(plain, entities)
    entities = _merge_auto_entities(plain, entities)
    return plain, entities


def _guard(parser: Any, text: str) -> tuple[str, list[dict[str, Any]]]:
    try:
        return parser(text)
    except EntityParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    stripped_left = text.lstrip()
    lead = utf16_len(text) - utf16_len(stripped_left)
    result = stripped_left.rstrip()
    total = utf16_len(result)
    out = []
    for ent in entities:
        start = max(ent["offset"] - lead, 0)
        end = min(ent["offset"] + ent["length"] - lead, total)
        if end > start:
            out.append({**ent, "offset": start, "length": end - start})
    return result, out


# ---------------------------------------------------------------------------------------
# HTML

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_HTML_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_entity(match: re.Match[str]) -> str | None:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


@dataclass
class _Open:
    tag: str
    start: int
    entity: dict[str, Any] | None


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Out()
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "&":
            match = _HTML_ENTITY.match(src, i)
            decoded = _decode_entity(match) if match else None
            if match and decoded is not None:
                out.add(decoded)
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if ch != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            out.add(src[i:j])
            i = j
            continue
        offset = _byte_offset(src, i)
        if i + 1 < n and src[i + 1] == "/":
            end = src.find(">", i)
            if end == -1:
                raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
            name = src[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
            top = stack.pop()
            if name != top.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", '
                    f'found "</{name}>"'
                )
            _close_html(top, out.pos, entities, stack)
            i = end + 1
            continue
        match = _TAG_NAME.match(src, i + 1)
        name = match.group().lower() if match else ""
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        assert match is not None
        j = match.end()
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            if src[j] == ">":
                j += 1
                break
            attr = _ATTR_NAME.match(src, j)
            if not attr:
                raise EntityParseError(
                    f'Empty attribute name in the tag "{name}" at byte offset {offset}'
                )
            attr_name = attr.group().lower()
            j = attr.end()
            while j < n and src[j].isspace():
                j += 1
            value = ""
            if j < n and src[j] == "=":
                j += 1
                while j < n and src[j].isspace():
                    j += 1
                if j >= n:
                    raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
                if src[j] in "\"'":
                    quote = src[j]
                    close = src.find(quote, j + 1)
                    if close == -1:
                        raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
                    value = src[j + 1 : close]
                    j = close + 1
                else:
                    k = j
                    while k < n and not src[k].isspace() and src[k] != ">":
                        k += 1
                    value = src[j:k]
                    j = k
            attrs[attr_name] = html.unescape(value)
        stack.append(_Open(name, out.pos, _html_entity_for(name, attrs, offset, stack)))
        i = j
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.text(), entities


def _html_entity_for(
    name: str, attrs: dict[str, str], offset: int, stack: list[_Open]
) -> dict[str, Any] | None:
    kind = _HTML_TAGS[name]
    if name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        return {"type": "spoiler"}
    if name == "a":
        href = attrs.get("href", "").strip()
        if not href:
            return None
        user = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user:
            return {"type": "text_mention", "user": {"id": int(user.group(1))}}
        return {"type": "text_link", "url": href}
    if name == "tg-emoji":
        emoji_id = attrs.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise EntityParseError(
                f'Expected custom emoji identifier in the tag "tg-emoji" at byte offset {offset}'
            )
        return {"type": "custom_emoji", "custom_emoji_id": emoji_id}
    if name == "code":
        lang_class = attrs.get("class", "")
        if stack and stack[-1].tag == "pre" and lang_class.startswith("language-"):
            parent = stack[-1].entity
            if parent is not None and "language" not in parent:
                parent["language"] = lang_class[len("language-") :]
                return {"type": "_pre_code"}
        return {"type": "code"}
    if name == "blockquote":
        return {"type": "expandable_blockquote" if "expandable" in attrs else "blockquote"}
    return {"type": kind}


def _close_html(
    top: _Open, end: int, entities: list[dict[str, Any]], stack: list[_Open]
) -> None:
    entity = top.entity
    if entity is None or entity["type"] == "_pre_code":
        return
    if end > top.start:
        entities.append({**entity, "offset": top.start, "length": end - top.start})


# ---------------------------------------------------------------------------------------
# MarkdownV2

_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _MdOpen:
    kind: str
    start: int
    byte_offset: int


def _escaped(src: str, i: int) -> bool:
    return src[i] == "\\" and i + 1 < len(src) and 0 < ord(src[i + 1]) <= 126


def _find_unescaped(src: str, token: str, start: int) -> int:
    i = start
    while i < len(src):
        if _escaped(src, i):
            i += 2
            continue
        if src.startswith(token, i):
            return i
        i += 1
    return -1


def _unescape_code(text: str) -> str:
    return re.sub(r"\\([`\\])", r"\1", text)


def parse_markdown_v2(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Out()
    stack: list[_MdOpen] = []
    entities: list[dict[str, Any]] = []
    quote_start: int | None = None
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        line_start = i == 0 or src[i - 1] == "\n"
        if line_start:
            if ch == ">":
                if quote_start is None:
                    quote_start = out.pos
                i += 1
                continue
            if quote_start is not None:
                _add_entity(entities, "blockquote", quote_start, out.pos - 1)
                quote_start = None
        if _escaped(src, i):
            out.add(src[i + 1])
            i += 2
            continue
        if ch == "`":
            offset = _byte_offset(src, i)
            if src.startswith("```", i):
                close = _find_unescaped(src, "```", i + 3)
                if close == -1:
                    raise EntityParseError(f"Can't find end of Pre entity at byte offset {offset}")
                body = src[i + 3 : close]
                language = ""
                newline = body.find("\n")
                if newline != -1 and re.fullmatch(r"[\w+#.-]*", body[:newline]):
                    language, body = body[:newline], body[newline + 1 :]
                start = out.pos
                out.add(_unescape_code(body))
                ent: dict[str, Any] = {"type": "pre"}
                if language:
                    ent["language"] = language
                _add_entity(entities, ent, start, out.pos)
                i = close + 3
            else:
                close = _find_unescaped(src, "`", i + 1)
                if close == -1:
                    raise EntityParseError(
                        f"Can't find end of Code entity at byte offset {offset}"
                    )
                start = out.pos
                out.add(_unescape_code(src[i + 1 : close]))
                _add_entity(entities, "code", start, out.pos)
                i = close + 1
            continue
        kind, width = None, 1
        if ch == "*":
            kind = "bold"
        elif ch == "_":
            kind, width = ("underline", 2) if src.startswith("__", i) else ("italic", 1)
        elif ch == "~":
            kind = "strikethrough"
        elif ch == "|" and src.startswith("||", i):
            kind, width = "spoiler", 2
        if kind is not None:
            opened = [o for o in stack if o.kind == kind]
            if opened:
                top = stack[-1]
                if top.kind != kind:
                    raise EntityParseError(
                        f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset "
                        f"{top.byte_offset}"
                    )
                stack.pop()
                _add_entity(entities, kind, top.start, out.pos)
            else:
                stack.append(_MdOpen(kind, out.pos, _byte_offset(src, i)))
            i += width
            continue
        if ch == "[" or (ch == "!" and src.startswith("![", i)):
            kind = "text_link" if ch == "[" else "custom_emoji"
            stack.append(_MdOpen(kind, out.pos, _byte_offset(src, i)))
            i += 1 if ch == "[" else 2
            continue
        if ch == "]" and stack and stack[-1].kind in ("text_link", "custom_emoji"):
            top = stack.pop()
            if not src.startswith("(", i + 1):
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset "
                    f"{top.byte_offset}"
                )
            close = _find_unescaped(src, ")", i + 2)
            if close == -1:
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset "
                    f"{top.byte_offset}"
                )
            url = re.sub(r"\\([)\\])", r"\1", src[i + 2 : close])
            if top.kind == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
                if not emoji:
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                ent = {"type": "custom_emoji", "custom_emoji_id": emoji.group(1)}
            else:
                user = re.fullmatch(r"tg://user\?id=(\d+)", url)
                if user:
                    ent = {"type": "text_mention", "user": {"id": int(user.group(1))}}
                else:
                    ent = {"type": "text_link", "url": url}
            _add_entity(entities, ent, top.start, out.pos)
            i = close + 1
            continue
        if ch in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        j = i + 1
        while j < n and src[j] not in _MDV2_RESERVED and src[j] not in "\\\n":
            j += 1
        if j < n and src[j] == "\n":
            j += 1
        out.add(src[i:j])
        i = j
    if stack:
        top = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset {top.byte_offset}"
        )
    if quote_start is not None:
        _add_entity(entities, "blockquote", quote_start, out.pos)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.text(), entities


def _add_entity(
    entities: list[dict[str, Any]], kind: str | dict[str, Any], start: int, end: int
) -> None:
    if end <= start:
        return
    ent = {"type": kind} if isinstance(kind, str) else dict(kind)
    ent["offset"] = start
    ent["length"] = end - start
    entities.append(ent)


# ---------------------------------------------------------------------------------------
# Legacy Markdown

_MD_MARKS = {"*": "bold", "_": "italic"}


def parse_markdown(src: str) -> tuple[str, list[dict[str, Any]]]:
    out = _Out()
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if ch in _MD_MARKS or ch == "`" or ch == "[":
            offset = _byte_offset(src, i)
            error = EntityParseError(
                f"Can't find end of the entity starting at byte offset {offset}"
            )
            if ch == "`" and src.startswith("```", i):
                close = src.find("```", i + 3)
                if close == -1:
                    raise error
                body = src[i + 3 : close]
                language = ""
                newline = body.find("\n")
                if newline != -1 and re.fullmatch(r"[\w+#.-]*", body[:newline]):
                    language, body = body[:newline], body[newline + 1 :]
                start = out.pos
                out.add(body)
                ent: dict[str, Any] = {"type": "pre"}
                if language:
                    ent["language"] = language
                _add_entity(entities, ent, start, out.pos)
                i = close + 3
                continue
            if ch == "[":
                close = src.find("]", i + 1)
                if close == -1 or not src.startswith("(", close + 1):
                    raise error
                url_end = src.find(")", close + 2)
                if url_end == -1:
                    raise error
                start = out.pos
                out.add(src[i + 1 : close])
                _add_entity(
                    entities, {"type": "text_link", "url": src[close + 2 : url_end]}, start, out.pos
                )
                i = url_end + 1
                continue
            close = src.find(ch, i + 1)
            if close == -1:
                raise error
            start = out.pos
            out.add(src[i + 1 : close])
            _add_entity(entities, "code" if ch == "`" else _MD_MARKS[ch], start, out.pos)
            i = close + 1
            continue
        j = i + 1
        while j < n and src[j] not in "\\*_`[":
            j += 1
        out.add(src[i:j])
        i = j
    return out.text(), entities


# ---------------------------------------------------------------------------------------
# Entities Telegram finds by itself

_AUTO_PATTERNS = [
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")),
    ("url", re.compile(r"(?<![\w@/])(?:https?://|www\.)[^\s<>\"]+[^\s<>\".,;:!?)\]'’]")),
    ("mention", re.compile(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#&])#\w*[^\W\d_]\w*")),
]


_OPAQUE = {"code", "pre", "text_link", "text_mention", "custom_emoji", "url", "mention"}


def _merge_auto_entities(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not text or ("/" not in text and "@" not in text and "#" not in text and "www" not in text):
        return entities
    taken = [
        (e["offset"], e["offset"] + e["length"]) for e in entities if e["type"] in _OPAQUE
    ]
    found: list[dict[str, Any]] = []
    for kind, pattern in _AUTO_PATTERNS:
        for match in pattern.finditer(text):
            start = utf16_len(text[: match.start()])
            end = start + utf16_len(match.group())
            if any(s < end and start < e for s, e in taken):
                continue
            taken.append((start, end))
            found.append({"type": kind, "offset": start, "length": end - start})
    if not found:
        return entities
    return sorted(entities + found, key=lambda e: (e["offset"], -e["length"]))
