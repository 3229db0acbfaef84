"""The HTML document an email body is delivered in: a plain, accessible, table-based layout with branding.

Only :func:`wrap` builds markup around an already-sanitised body; every branding value is escaped or checked
(colours must be ``#rgb``/``#rrggbb``, logos must be ``https`` URLs) so branding cannot inject markup either.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Literal

BrandType = Literal["govuk", "org", "both", "org_banner"]
GOVUK_BLACK = "#0b0c0c"
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")


@dataclass(frozen=True, slots=True)
class EmailBranding:
    """``govuk`` (default banner), ``org`` (organisation logo), ``both`` or ``org_banner`` (coloured banner)."""

    brand_type: BrandType = "govuk"
    name: str | None = None
    colour: str | None = None
    logo_url: str | None = None
    alt_text: str | None = None


GOVUK_BRANDING = EmailBranding()


def _colour(value: str | None, default: str) -> str:
    return value if value and _COLOUR.fullmatch(value) else default


def _logo(branding: EmailBranding, height: int = 40) -> str:
    url = branding.logo_url or ""
    alt = html.escape(branding.alt_text or branding.name or "", quote=True)
    if not url.startswith("https://"):
        return f'<span style="font-size: 24px; font-weight: bold;">{html.escape(branding.name or "")}</span>'
    return f'<img src="{html.escape(url, quote=True)}" alt="{alt}" height="{height}" style="display: block; border: 0;">'


def _banner(branding: EmailBranding) -> str:
    govuk = (
        f'<td style="background: {GOVUK_BLACK}; padding: 12px 20px; color: #ffffff; font-size: 28px; '
        'font-weight: bold; line-height: 1.2;">GOV.UK</td>'
    )
    if branding.brand_type == "govuk":
        return f"<tr>{govuk}</tr>"
    colour = _colour(branding.colour, GOVUK_BLACK)
    org = f'<td style="padding: 12px 20px; border-left: 4px solid {colour};">{_logo(branding)}</td>'
    if branding.brand_type == "both":
        return f"<tr>{govuk}</tr><tr>{org}</tr>"
    if branding.brand_type == "org_banner":
        text_colour = "#ffffff"
        name = html.escape(branding.name or "")
        inner = _logo(branding) if branding.logo_url else f'<span style="color: {text_colour};">{name}</span>'
        return f'<tr><td style="background: {colour}; padding: 12px 20px; font-size: 24px; font-weight: bold;">{inner}</td></tr>'
    return f"<tr>{org}</tr>"


def wrap(body_html: str, *, subject: str, branding: EmailBranding | None = None) -> str:
    """A complete HTML document around ``body_html`` (which must already be sanitised)."""
    branding = branding or GOVUK_BRANDING
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="format-detection" content="telephone=no">\n'
        f"<title>{html.escape(subject)}</title>\n</head>\n"
        '<body style="margin: 0; padding: 0; font-family: Helvetica, Arial, sans-serif; '
        f'color: {GOVUK_BLACK}; background: #ffffff; -webkit-text-size-adjust: none;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="border-collapse: collapse; max-width: 580px; margin: 0 auto;">\n'
        f"{_banner(branding)}\n"
        f'<tr><td style="padding: 30px 20px 10px 20px;">\n{body_html}</td></tr>\n'
        "</table>\n</body>\n</html>\n"
    )
