"""The simulator's quick reading of a letter's address window, for PDFs of a simple shape.

pypdf's text extraction (``notify_content.letters.address_window_lines``) costs about 2 ms a letter: it parses every
object and runs every text operator through its font machinery. The letters the simulator sees mostly come from
this platform's renderer (reportlab), which writes PDFs of a simple shape: one revision with a classic
cross-reference table, standard Type 1 fonts in WinAnsiEncoding, and each line of text shown by one ``Tj`` after
a positioning operator. For such a PDF, ``address_window_lines`` here finds the lines whose start lies in the
window (``ADDRESS_WINDOW_MM``, as the content engine defines it) with a few regular expressions, in a tenth of the
time. It is a simulator's shortcut, not a PDF parser: for anything it does not model (object or cross-reference
streams, incremental updates, encryption, indirect lengths, other filters, other fonts or encodings, ``TJ``
arrays, text shown straight after text, form XObjects, inline images, marked content with properties, text that
is not printable ASCII in the window ...) it answers None and the caller reads the page with pypdf.
"""

from __future__ import annotations

import re
import struct
import zlib

from notify_content.letters import ADDRESS_WINDOW_MM

_MM = 72 / 25.4
_DELIM = rb"(?=[\s/<>\[\]()%]|$)"  # where a PDF name or keyword ends

_A85_DIGITS = bytes(c - 33 if 33 <= c <= 117 else 255 for c in range(256))
_DICT_MARK = re.compile(rb"<<|>>|\(")
_STRING_MARK = re.compile(rb"\\.|[()]", re.DOTALL)
_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_SECTION = re.compile(rb"(\d+)[ \t]+(\d+)[ \t]*\r?\n")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])(?: \r| \n|\r\n)")
_TRAILER = re.compile(rb"\s*trailer\s*<<")
_REF = rb"\s+(\d+)\s+0\s+R" + _DELIM


def _key(name: bytes) -> re.Pattern[bytes]:
    return re.compile(rb"/" + name + _DELIM)


_ROOT = re.compile(rb"/Root" + _REF)
_PAGES = re.compile(rb"/Pages" + _REF)
_FIRST_KID = re.compile(rb"/Kids\s*\[\s*(\d+)\s+0\s+R" + _DELIM)
_TYPE_PAGE = re.compile(rb"/Type\s*/Page" + _DELIM)
_CONTENTS = re.compile(rb"/Contents" + _REF)
_MEDIABOX = re.compile(rb"/MediaBox\s*\[\s*([-+.\d]+)\s+([-+.\d]+)\s+([-+.\d]+)\s+([-+.\d]+)\s*\]")
_RESOURCES_REF = re.compile(rb"/Resources" + _REF)
_RESOURCES_INLINE = re.compile(rb"/Resources\s*<<")
_FONT_REF = re.compile(rb"/Font" + _REF)
_FONT_INLINE = re.compile(rb"/Font\s*<<")
_FONT_ENTRY = re.compile(rb"/([^\s/<>\[\]()%]+)" + _REF)
_SIMPLE_FONT = (
    re.compile(rb"/Subtype\s*/Type1" + _DELIM),
    re.compile(rb"/Encoding\s*/WinAnsiEncoding" + _DELIM),
)
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)" + _DELIM)
_FILTERS = {
    b"": (),
    b"/FlateDecode": (b"Flate",),
    b"[/FlateDecode]": (b"Flate",),
    b"/ASCII85Decode": (b"A85",),
    b"[/ASCII85Decode]": (b"A85",),
    b"[/ASCII85Decode/FlateDecode]": (b"A85", b"Flate"),
}
_FILTER = re.compile(rb"/Filter\s*(/\w+|\[[^\]]*\])")
_STREAM = re.compile(rb"\s*stream\r?\n")
_ENDSTREAM = re.compile(rb"\s*endstream")

# A content stream of the simple shape: operators, each after its operands (numbers, names, strings, arrays);
# anything else (dictionaries, comments, inline image data ...) breaks the chain of matches.
_OPERAND = rb"""(?:\((?:[^()\\]|\\.)*\)|<[0-9A-Fa-f\s]*>|[-+]?(?:\d+\.?\d*|\.\d+)(?![\d.])|/[^\s/<>\[\]()%{}]*|[\[\]])"""
_OPERATION = re.compile(rb"(\s*((?:" + _OPERAND + rb"\s*)*+)([A-Za-z'\"][A-Za-z0-9*'\"]*))", re.DOTALL)
_OPERANDS = re.compile(_OPERAND, re.DOTALL)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|.)", re.DOTALL)
_ESCAPES = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
    b"\r\n": b"",
    b"\n": b"",
    b"\r": b"",
}
# Operators that change nothing this reader tracks (colour, lines, paths, clipping, spacing, marked content).
_IGNORED = frozenset(
    b"""w J j M d ri i gs m l c v y h re S s f F f* B B* b b* n W W* g G rg RG k K cs CS sc scn SC SCN sh
    Tc Tw Tz Tr BMC EMC MP""".split()
)
_SHOW = frozenset((b"Tj", b"'", b'"'))
_KEPT = frozenset((b"ET", b"Tf", b"Ts"))  # nothing to do: the position and the text do not depend on them

Matrix = list[float]


class _NotSimple(Exception):
    pass


def _mult(m: Matrix, n: Matrix) -> Matrix:
    return [
        m[0] * n[0] + m[1] * n[2],
        m[0] * n[1] + m[1] * n[3],
        m[2] * n[0] + m[3] * n[2],
        m[2] * n[1] + m[3] * n[3],
        m[4] * n[0] + m[5] * n[2] + n[4],
        m[4] * n[1] + m[5] * n[3] + n[5],
    ]


def _once(pattern: re.Pattern[bytes], text: bytes) -> re.Match[bytes]:
    """The one match of ``pattern`` in ``text`` (a key given twice, say in a nested dictionary, is not simple)."""
    found = pattern.findall(text)
    if len(found) != 1:
        raise _NotSimple
    match = pattern.search(text)
    assert match is not None
    return match


def _dictionary(data: bytes, start: int) -> tuple[bytes, int]:
    """The dictionary opening at ``data[start]`` (``<<``) and the index after it, skipping strings."""
    depth, i = 0, start
    while True:
        found = _DICT_MARK.search(data, i)
        if found is None:
            raise _NotSimple
        mark, i = found.group(), found.end()
        if mark == b"<<":
            depth += 1
        elif mark == b">>":
            depth -= 1
            if depth == 0:
                return data[start:i], i
        else:  # "(": a literal string, possibly with nested parentheses
            level = 1
            while level:
                inner = _STRING_MARK.search(data, i)
                if inner is None:
                    raise _NotSimple
                i = inner.end()
                level += {b"(": 1, b")": -1}.get(inner.group(), 0)


class _Document:
    def __init__(self, pdf: bytes) -> None:
        if pdf.count(b"startxref") != 1 or pdf.count(b"%%EOF") != 1:
            raise _NotSimple  # an incremental update, or something stranger
        found = _STARTXREF.search(pdf)
        if found is None or not pdf.startswith(b"xref", int(found.group(1))):
            raise _NotSimple
        self.pdf = pdf
        self.offsets: dict[int, int] = {}
        pos = int(found.group(1)) + 4
        while True:
            section = _XREF_SECTION.match(pdf, _skip_space(pdf, pos))
            if section is None:
                break
            first, count = int(section.group(1)), int(section.group(2))
            pos = section.end()
            for number in range(first, first + count):
                entry = _XREF_ENTRY.match(pdf, pos)
                if entry is None:
                    raise _NotSimple
                if entry.group(3) == b"n" and entry.group(2) == b"00000":
                    self.offsets[number] = int(entry.group(1))
                pos = entry.end()
        trailer = _TRAILER.match(pdf, pos)
        if trailer is None:
            raise _NotSimple
        self.trailer, _ = _dictionary(pdf, trailer.end() - 2)
        if re.search(rb"/(Prev|Encrypt|XRefStm)" + _DELIM, self.trailer):
            raise _NotSimple

    def object(self, number: int) -> tuple[bytes, int]:
        """Object ``number``'s dictionary and the index after it."""
        offset = self.offsets.get(number)
        if offset is None:
            raise _NotSimple
        header = re.compile(rb"\s*%d\s+0\s+obj\s*<<" % number).match(self.pdf, offset)
        if header is None:
            raise _NotSimple
        return _dictionary(self.pdf, header.end() - 2)

    def stream(self, number: int) -> bytes:
        """Object ``number``'s stream, decoded."""
        header, end = self.object(number)
        length = int(_once(_LENGTH, header).group(1))
        if b"/DecodeParms" in header:
            raise _NotSimple
        found = _FILTER.search(header)
        names = b"" if found is None else re.sub(rb"\s+", b"", found.group(1))
        filters = _FILTERS.get(names)
        opened = _STREAM.match(self.pdf, end)
        if filters is None or opened is None:
            raise _NotSimple
        data = self.pdf[opened.end() : opened.end() + length]
        if len(data) != length or _ENDSTREAM.match(self.pdf, opened.end() + length) is None:
            raise _NotSimple
        for name in filters:
            if name == b"A85":
                data = _a85decode(data)
            else:
                data = zlib.decompress(data)
        return data


def _a85decode(data: bytes) -> bytes:
    """ASCII base-85 (as ``base64.a85decode``, which goes a character at a time, but by groups of five)."""
    data = re.sub(rb"\s+", b"", data).removesuffix(b"~>").replace(b"z", b"!!!!!")
    pad = -len(data) % 5
    digits = iter((data + b"u" * pad).translate(_A85_DIGITS))
    words = [(((a * 85 + b) * 85 + c) * 85 + d) * 85 + e for a, b, c, d, e in zip(*[digits] * 5, strict=True)]
    decoded = struct.pack(f">{len(words)}I", *words)  # a digit out of range overflows: struct.error
    return decoded[: len(decoded) - pad]


def _skip_space(data: bytes, pos: int) -> int:
    while pos < len(data) and data[pos] in b" \t\r\n":
        pos += 1
    return pos


def _unescape(literal: bytes) -> bytes:
    def one(match: re.Match[bytes]) -> bytes:
        code = match.group(1)
        if code[:1].isdigit():
            return bytes([int(code, 8) & 0xFF])
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(one, literal[1:-1])


def _first_page(document: _Document) -> tuple[bytes, float, bytes]:
    """(content stream, top of the media box, font resources) of page 1."""
    root = int(_once(_ROOT, document.trailer).group(1))
    catalog, _ = document.object(root)
    pages, _ = document.object(int(_once(_PAGES, catalog).group(1)))
    kid = int(_once(_FIRST_KID, pages).group(1))
    page, _ = document.object(kid)
    if not _TYPE_PAGE.search(page):
        raise _NotSimple  # a nested page tree
    top = float(_once(_MEDIABOX, page).group(4))
    content = document.stream(int(_once(_CONTENTS, page).group(1)))
    if _RESOURCES_INLINE.search(page):
        resources, _ = _dictionary(page, _once(_RESOURCES_INLINE, page).end() - 2)
    else:
        resources, _ = document.object(int(_once(_RESOURCES_REF, page).group(1)))
    if _FONT_INLINE.search(resources):
        fonts, _ = _dictionary(resources, _once(_FONT_INLINE, resources).end() - 2)
    else:
        fonts, _ = document.object(int(_once(_FONT_REF, resources).group(1)))
    return content, top, fonts


def _check_fonts(document: _Document, fonts: bytes) -> None:
    """Every font of the page a standard Type 1 font in WinAnsiEncoding (so printable ASCII is itself)."""
    entries = _FONT_ENTRY.findall(fonts)
    if not entries or fonts.count(b"/") != len(entries):
        raise _NotSimple
    for _, number in entries:
        font, _ = document.object(int(number))
        if not all(p.search(font) for p in _SIMPLE_FONT) or b"/ToUnicode" in font or b"/Differences" in font:
            raise _NotSimple


def _fragments(content: bytes) -> list[tuple[float, float, bytes]]:
    """(x, y, text) of every text fragment (one ``Tj``) on the page, in user space."""
    operations = _OPERATION.findall(content)
    if sum(len(whole) for whole, _, _ in operations) != len(content.rstrip()):
        raise _NotSimple  # something between two operations that is neither an operand nor an operator
    cm: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    tm: Matrix = list(cm)
    stack: list[Matrix] = []
    leading = 0.0
    placed = True  # the text position is known (no text shown since the last positioning)
    found: list[tuple[float, float, bytes]] = []
    for _, args, name in operations:
        if name in _IGNORED:
            continue
        if name in _SHOW:
            operands = _OPERANDS.findall(args)
            if name != b"Tj":  # ' and ": to the next line first
                tm[4] -= leading * tm[2]
                tm[5] -= leading * tm[3]
                placed = True
            if not placed:
                raise _NotSimple  # where it starts depends on the widths of the text before it
            found.append(
                (
                    tm[4] * cm[0] + tm[5] * cm[2] + cm[4],
                    tm[4] * cm[1] + tm[5] * cm[3] + cm[5],
                    _string(operands[-1]),
                )
            )
            placed = False
        elif name == b"T*":
            tm[4] -= leading * tm[2]
            tm[5] -= leading * tm[3]
            placed = True
        elif name == b"q":
            stack.append(cm)
        elif name == b"Q":
            cm = stack.pop()
        elif name == b"cm":
            cm = _mult([float(n) for n in _numbers(args, 6)], cm)
        elif name == b"BT":
            tm, placed = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0], True
        elif name == b"Tm":
            tm, placed = [float(n) for n in _numbers(args, 6)], True
        elif name == b"Td" or name == b"TD":
            tx, ty = (float(n) for n in _numbers(args, 2))
            if name == b"TD":
                leading = -ty
            tm[4] += tx * tm[0] + ty * tm[2]
            tm[5] += tx * tm[1] + ty * tm[3]
            placed = True
        elif name == b"TL":
            (leading,) = (float(n) for n in _numbers(args, 1))
        elif name not in _KEPT:
            raise _NotSimple  # TJ, Do, BI, BDC, d0 ...
    return found


def _numbers(args: bytes, count: int) -> list[bytes]:
    numbers = args.split()
    if len(numbers) != count:
        raise _NotSimple
    return numbers


def _string(token: bytes) -> bytes:
    if token.startswith(b"("):
        return _unescape(token)
    if token.startswith(b"<"):
        digits = re.sub(rb"\s+", b"", token[1:-1])
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode())
    raise _NotSimple


def address_window_lines(pdf: bytes) -> list[str] | None:
    """The text lines starting inside the address window of page 1, top to bottom (each line's fragments left to
    right, joined by spaces); None if the PDF is not of the simple shape this reader knows."""
    try:
        document = _Document(pdf)
        content, top, fonts = _first_page(document)
        _check_fonts(document, fonts)
        fragments = _fragments(content)
    except Exception:  # _NotSimple, or something malformed: pypdf will say
        return None
    left, window_top, right, bottom = ADDRESS_WINDOW_MM
    x_min, x_max = left * _MM, right * _MM
    y_min, y_max = top - bottom * _MM, top - window_top * _MM
    lines: dict[int, list[tuple[float, str]]] = {}
    for x, y, raw in fragments:
        if not (x_min <= x <= x_max and y_min <= y <= y_max) or not raw.strip():
            continue
        if any(c < 0x20 or c > 0x7E for c in raw):
            return None  # only printable ASCII is surely the same in every reading
        lines.setdefault(round(y), []).append((x, raw.decode("ascii")))
    return [" ".join(t for _, t in sorted(parts)).strip() for _, parts in sorted(lines.items(), reverse=True)]
