"""Notify's markdown subset (behaviour.md §5.2), parsed with markdown-it-py.

One parser configuration serves email HTML, the email plain-text part and letters:

* ``#``/``##`` headings (deeper levels are paragraphs), ``*``/``-``/``•`` bullets, ``1.`` numbered lists,
  ``^`` inset text, 3+ ``-``/``*``/``_`` rules, ``[text](url)`` links and bare ``http(s)://`` URLs, single
  newlines kept as line breaks;
* emphasis, strike-through, inline code, code blocks and raw HTML are *not* interpreted (shown literally);
  images and tables are dropped; ``>`` is literal text (inset text is written ``^``).

Raw HTML is never passed through: markdown-it escapes it, and the email renderer additionally runs nh3.
"""

from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

_INSET_LINE = re.compile(r"^([ \t]{0,3})\^[ \t]?", re.MULTILINE)
_QUOTE_LINE = re.compile(r"^([ \t]{0,3})>", re.MULTILINE)
# `-` and `•` bullets become `*` so that one list written with mixed markers stays one list; a line of
# spaced hyphens (`- - -`) is a rule and is left alone.
_BULLET_LINE = re.compile(r"^([ \t]*)(?:•[ \t]*|-[ \t]+)(?![-*_ \t]*$)", re.MULTILINE)
_DISABLED_RULES = [
    "emphasis",
    "backticks",
    "code",
    "fence",
    "html_block",
    "html_inline",
    "lheading",
    "replacements",
    "smartquotes",
]


@cache
def parser(tables: bool = True) -> MarkdownIt:
    """The shared parser (built on first use, then reused: it is stateless between ``parse`` calls)."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "typographer": False})
    if tables:  # only needed to recognise (and then drop) tables; the rule costs ~20% of a parse
        md.enable(["table"])
    md.disable(_DISABLED_RULES)
    # Our own bare-URL rule: only http(s):// URLs are linked (so "GOV.UK" and "example.com" stay text), and
    # it is several times cheaper than running linkify-it over every text token.
    md.core.ruler.push("bare_urls", _link_bare_urls)
    return md


# A URL runs to whitespace or <>"; trailing punctuation belongs to the sentence, not the link.
_BARE_URL = re.compile(r"https?://[^\s<>\"]*[^\s<>\".,;:!?'\)\]]", re.IGNORECASE)


def _link_bare_urls(state: StateCore) -> None:
    for block in state.tokens:
        if block.type != "inline" or not block.children or "://" not in block.content:
            continue
        children: list[Token] = []
        inside_link = 0
        for child in block.children:
            if child.type == "link_open":
                inside_link += 1
            elif child.type == "link_close":
                inside_link -= 1
            if child.type == "text" and not inside_link and "://" in child.content:
                children.extend(_split_urls(child, state))
            else:
                children.append(child)
        block.children = children


def _split_urls(token: Token, state: StateCore) -> list[Token]:
    pieces: list[Token] = []
    text, position = token.content, 0
    for match in _BARE_URL.finditer(text):
        url, end = match.group(0), match.end()
        if text[end : end + 1] == ")" and url.count("(") > url.count(")"):
            url, end = url + ")", end + 1  # Wikipedia-style URLs end in a bracket of their own
        href = state.md.normalizeLink(url)
        if not state.md.validateLink(href):
            continue
        if match.start() > position:
            pieces.append(_text(text[position : match.start()], token.level))
        link_open = Token("link_open", "a", 1, attrs={"href": href}, level=token.level, markup="linkify")
        pieces += [link_open, _text(url, token.level + 1), Token("link_close", "a", -1, level=token.level)]
        position = end
    if position < len(text):
        pieces.append(_text(text[position:], token.level))
    return pieces


def _text(content: str, level: int) -> Token:
    return Token("text", "", 0, content=content, level=level)


def preprocess(source: str) -> str:
    """Map Notify's notation onto CommonMark before parsing.

    ``>`` at the start of a line is escaped (it is not Notify syntax), then ``^`` becomes ``>`` (inset text),
    ``•`` and ``-`` bullets become ``*`` bullets.
    """
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    if ">" in text:
        text = _QUOTE_LINE.sub(r"\1\\>", text)
    if "^" in text:
        text = _INSET_LINE.sub(r"\1> ", text)
    if "•" in text or "-" in text:
        text = _BULLET_LINE.sub(r"\1* ", text)
    return text


def parse(source: str) -> list[Token]:
    """Block tokens for ``source``; images and tables are removed here so every renderer drops them."""
    text = preprocess(source)
    tokens = parser(tables="|" in text).parse(text)
    return _without_empty_paragraphs(_without_tables(tokens))


def _without_tables(tokens: list[Token]) -> list[Token]:
    kept: list[Token] = []
    depth = 0
    for token in tokens:
        if token.type == "table_open":
            depth += 1
        if depth == 0:
            if token.type == "inline" and token.children:
                token.children = _without_images(token.children)
            kept.append(token)
        if token.type == "table_close":
            depth -= 1
    return kept


def _without_images(children: list[Token]) -> list[Token]:
    return [child for child in children if child.type != "image"]


def _without_empty_paragraphs(tokens: list[Token]) -> list[Token]:
    """Drop paragraphs left empty (e.g. one that only held an image)."""
    kept: list[Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "paragraph_open" and index + 2 < len(tokens) and _is_blank(tokens[index + 1]):
            index += 3  # paragraph_open, inline, paragraph_close
            continue
        kept.append(token)
        index += 1
    return kept


def _is_blank(token: Token) -> bool:
    return token.type == "inline" and all(
        child.type in ("softbreak", "hardbreak") or (child.type == "text" and not child.content.strip())
        for child in token.children or []
    )


def heading_level(token: Token) -> int:
    """1 or 2 for the two heading levels Notify formats; 0 for deeper headings (rendered as paragraphs)."""
    level = int(token.tag[1])
    return level if level <= 2 else 0
