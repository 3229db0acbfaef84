"""Email body rendering: markdown subset → HTML fragment with inline styles, and → plain text.

Contract: :func:`render_html` returns a fragment that has been through nh3 (an allow-list of tags, ``style``
and ``href`` attributes, http/https/mailto/tel links only), so nothing a template or a value contains can add
script, event attributes or ``javascript:`` links.  :func:`render_text` is the ``text/plain`` part.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import cache

import nh3
from markdown_it.token import Token

from .markdown import heading_level, parse
from .typography import en_dashes, smart_quotes

TEXT_COLOUR = "#0b0c0c"
LINK_COLOUR = "#1d70b8"
BORDER_COLOUR = "#b1b4b6"
_BODY_TEXT = f"font-size: 19px; line-height: 25px; color: {TEXT_COLOUR};"
STYLES = {
    "p": f"margin: 0 0 20px 0; {_BODY_TEXT}",
    "h2": f"margin: 0 0 15px 0; padding: 10px 0 0 0; font-size: 27px; line-height: 35px; font-weight: bold; color: {TEXT_COLOUR};",
    "h3": f"margin: 0 0 15px 0; padding: 10px 0 0 0; font-size: 19px; line-height: 25px; font-weight: bold; color: {TEXT_COLOUR};",
    "ul": "margin: 0 0 20px 0; padding: 0 0 0 20px; list-style-type: disc;",
    "ol": "margin: 0 0 20px 0; padding: 0 0 0 20px; list-style-type: decimal;",
    "li": f"margin: 5px 0 5px 0; {_BODY_TEXT}",
    "blockquote": f"margin: 0 0 20px 0; padding: 15px 0 0.1px 15px; border-left: 10px solid {BORDER_COLOUR}; {_BODY_TEXT}",
    "hr": f"border: 0; height: 1px; background: {BORDER_COLOUR}; margin: 30px 0 30px 0;",
    "a": f"word-wrap: break-word; color: {LINK_COLOUR};",
}
HEADING_TAGS = {1: "h2", 2: "h3"}  # the page title is the subject, so `#` is a second-level heading
SAFE_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_ALLOWED_TAGS = {"p", "h2", "h3", "ul", "ol", "li", "blockquote", "hr", "a", "br"}
_ALLOWED_ATTRIBUTES = {"*": {"style"}, "a": {"href", "style"}}
TEXT_RULE = "=-" * 20 + "="


def render_html(source: str) -> str:
    """HTML fragment for the markdown ``source`` (placeholders already filled)."""
    return render_parts(source)[0]


def render_parts(source: str) -> tuple[str, str]:
    """``(html fragment, plain text)`` from one parse of ``source``."""
    return render_tokens(parse(source))


Substitute = Callable[[str], str]


def render_tokens(tokens: list[Token], substitute: Substitute | None = None) -> tuple[str, str]:
    """``(html fragment, plain text)`` from parsed tokens; ``substitute`` rewrites every text token's content
    first (used by :mod:`.email_skeleton` to put values into a pre-parsed template)."""
    return sanitise_html(_HtmlWriter(substitute).write(tokens)), _text_from_tokens(tokens, substitute)


@cache
def _cleaner() -> nh3.Cleaner:
    """One configured sanitiser, built on first use (building it per call costs more than cleaning)."""
    return nh3.Cleaner(
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=set(SAFE_URL_SCHEMES),
        link_rel=None,
        strip_comments=True,
    )


def sanitise_html(fragment: str) -> str:
    return _cleaner().clean(fragment)


def render_text(source: str) -> str:
    """Plain-text part: headings underlined, bullets ``•``, rules ``=-=-…``, links ``text: URL``."""
    return _text_from_tokens(parse(source))


def _text_from_tokens(tokens: list[Token], substitute: Substitute | None = None) -> str:
    blocks: list[str] = []
    counters: list[int] = []  # one per open list: next number, or 0 for bullets
    list_lines: list[str] = []
    item_prefix: str | None = None
    in_heading = False
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            in_heading = heading_level(token) > 0
        elif kind in ("bullet_list_open", "ordered_list_open"):
            counters.append(int(token.attrGet("start") or 1) if kind == "ordered_list_open" else 0)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            counters.pop()
            if not counters:
                blocks.append("\n".join(list_lines))
                list_lines = []
        elif kind == "list_item_open":
            number = counters[-1]
            item_prefix = "  " * (len(counters) - 1) + (f"{number}. " if number else "• ")
            if number:
                counters[-1] += 1
        elif kind == "hr":
            blocks.append(TEXT_RULE)
        elif kind == "inline":
            text = _plain_inline(token.children or [], substitute)
            if counters:
                prefix = item_prefix if item_prefix is not None else "  " * len(counters)
                list_lines.append(prefix + text.replace("\n", "\n" + " " * len(prefix)))
                item_prefix = None
            elif in_heading:
                blocks.append(f"{text}\n{'-' * len(text)}")
                in_heading = False
            else:
                blocks.append(text)
    return "\n\n".join(blocks)


def _plain_inline(children: list[Token], substitute: Substitute | None) -> str:
    out: list[str] = []
    link_href: str | None = None
    link_text: list[str] = []
    for child in children:
        kind = child.type
        if kind == "link_open":
            link_href, link_text = child.attrGet("href") or "", []
        elif kind == "link_close":
            text, href = "".join(link_text), link_href or ""
            shown = text if text == href or not _safe_url(href) else f"{text}: {href}"
            out.append(shown)
            link_href = None
        else:
            piece = "\n" if kind in ("softbreak", "hardbreak") else child.content
            if substitute and kind == "text":
                piece = substitute(piece)
            (link_text if link_href is not None else out).append(piece)
    return "".join(out)


def _safe_url(href: str) -> bool:
    scheme, colon, _ = href.partition(":")
    return bool(colon) and scheme.lower() in SAFE_URL_SCHEMES


class _HtmlWriter:
    """Walks the flat token stream and writes styled HTML.  Text is escaped here; nh3 runs afterwards."""

    def __init__(self, substitute: Substitute | None = None) -> None:
        self.substitute = substitute

    def write(self, tokens: list[Token]) -> str:
        out: list[str] = []
        for token in tokens:
            out.append(self._block(token))
        return "".join(out)

    def _block(self, token: Token) -> str:
        kind = token.type
        if kind == "heading_open":
            return self._open(HEADING_TAGS.get(heading_level(token), "p"))
        if kind == "heading_close":
            return f"</{HEADING_TAGS.get(heading_level(token), 'p')}>\n"
        if kind == "paragraph_open":
            return "" if token.hidden else self._open("p")
        if kind == "paragraph_close":
            return "" if token.hidden else "</p>\n"
        if kind in ("bullet_list_open", "ordered_list_open"):
            return self._open(token.tag) + "\n"
        if kind in ("bullet_list_close", "ordered_list_close", "list_item_close", "blockquote_close"):
            return f"</{token.tag}>\n"
        if kind in ("list_item_open", "blockquote_open"):
            return self._open(token.tag)
        if kind == "hr":
            return f'<hr style="{STYLES["hr"]}">\n'
        if kind == "inline":
            return self._inline(token.children or [])
        return ""

    @staticmethod
    def _open(tag: str) -> str:
        return f'<{tag} style="{STYLES[tag]}">'

    def _inline(self, children: list[Token]) -> str:
        out: list[str] = []
        for child in children:
            kind = child.type
            if kind == "text":
                text = self.substitute(child.content) if self.substitute else child.content
                out.append(html.escape(smart_quotes(en_dashes(text)), quote=False))
            elif kind in ("softbreak", "hardbreak"):
                out.append("<br>\n")
            elif kind == "link_open":
                href = child.attrGet("href") or ""
                out.append(
                    f'<a style="{STYLES["a"]}" href="{html.escape(href)}">' if _safe_url(href) else "<a>"
                )
            elif kind == "link_close":
                out.append("</a>")
            else:
                out.append(html.escape(child.content, quote=False))
        return "".join(out)
