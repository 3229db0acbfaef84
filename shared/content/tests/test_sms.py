import math

import pytest
from notify_content.sms import GSM_EXTENSION, WELSH_NON_GSM, count, sanitise, tidy_whitespace


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain ASCII 123 !?", "plain ASCII 123 !?"),
        ("en – em — minus − nb‑hyphen", "en - em - minus - nb-hyphen"),
        ("‘single’ ‚low", "'single' 'low"),
        ("“double” „low", '"double" "low'),
        ("wait…", "wait..."),
        ("zero\u200bwidth\u200c\u200d\ufeff", "zerowidth"),
        ("line\u2028sep\u2029para", "lineseppara"),
        ("non\u00a0breaking\ttab", "non breaking tab"),
        ("Łódź", "Lódz"),  # ó is Welsh, so kept
        ("ç ñ Ñ", "c ñ Ñ"),
        ("ā ō ś", "a o s"),
        ("emoji 😀 ok", "emoji ? ok"),
        ("中文", "??"),
        ("back`tick", "back?tick"),
        ("Ä É Ö Ü à ä è é ì ò ö ù ü", "Ä É Ö Ü à ä è é ì ò ö ù ü"),
        ("Ŵ ŵ Ŷ ŷ ẁ ý", "Ŵ ŵ Ŷ ŷ ẁ ý"),
        ("{[€]}|~^\\", "{[€]}|~^\\"),
        ("", ""),
    ],
)
def test_sanitise(text, expected):
    assert sanitise(text) == expected
    assert sanitise(expected) == expected  # idempotent


def test_welsh_characters_force_unicode():
    assert count("Helo Ŵ").is_unicode is True
    assert count("Helô").is_unicode is True
    assert count("Héllo à").is_unicode is False  # both are GSM


@pytest.mark.parametrize(
    ("text", "characters", "fragments", "unicode"),
    [
        ("a" * 160, 160, 1, False),
        ("a" * 161, 161, 2, False),
        ("a" * 306, 306, 2, False),
        ("a" * 307, 307, 3, False),
        ("a" * 918, 918, 6, False),
        ("[" * 80, 160, 1, False),
        ("[" * 81, 162, 2, False),
        ("a" * 159 + "€", 161, 2, False),
        ("ŵ" * 70, 70, 1, True),
        ("ŵ" * 71, 71, 2, True),
        ("ŵ" * 134, 134, 2, True),
        ("ŵ" * 135, 135, 3, True),
        ("ŵ" + "[" * 69, 70, 1, True),  # extension characters count once in UCS-2
        ("😀" * 10, 10, 1, False),  # emoji become ? before counting
    ],
)
def test_count(text, characters, fragments, unicode):
    result = count(text)
    assert (result.characters, result.fragments, result.is_unicode) == (characters, fragments, unicode)


def test_reference_fragment_computation():
    for n in range(1, 1000, 7):
        assert count("x" * n).fragments == (1 if n <= 160 else math.ceil(n / 153))
        assert count("ŷ" * n).fragments == (1 if n <= 70 else math.ceil(n / 67))


def test_tables_are_disjoint():
    assert GSM_EXTENSION.isdisjoint(WELSH_NON_GSM)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  hello   world  ", "hello world"),
        ("a ,b .c", "a,b.c"),
        ("one\n\n\n\ntwo", "one\n\ntwo"),
        ("one \n two", "one\ntwo"),
        ("one\r\ntwo\rthree", "one\ntwo\nthree"),
        ("\n\n  x  \n\n", "x"),
    ],
)
def test_tidy_whitespace(text, expected):
    assert tidy_whitespace(text) == expected
