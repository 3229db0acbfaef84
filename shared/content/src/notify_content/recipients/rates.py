"""International SMS rate multipliers.

This is a **local, illustrative table**, not Notify's billing data: Notify prices each country separately and
we do not hold those figures.  The rules this module does fix are:

* every geographic country calling code known to libphonenumber is priced (multiplier 1 unless listed below);
* the non-geographic codes (international freephone, satellite, global services, e.g. +800, +881, +882) are
  *not* priced, so such numbers fail with ``Not a valid country prefix``;
* UK numbers cost 1; the Crown dependencies (Guernsey, Jersey, Isle of Man) share +44 but are billed at their
  own multiplier.

To change prices, edit the two tables below; nothing else depends on the figures.
"""

from __future__ import annotations

import phonenumbers

UK_COUNTRY_CODE = 44

# Calling code -> multiplier for the countries that cost more than one UK text.  Illustrative values.
_NON_DEFAULT_MULTIPLIERS: dict[int, float] = {
    7: 2.0,  # Russia, Kazakhstan
    20: 2.0,  # Egypt
    86: 2.0,  # China
    91: 1.0,  # India
    234: 2.0,  # Nigeria
    880: 2.0,  # Bangladesh
    960: 3.0,  # Maldives
    963: 3.0,  # Syria
    967: 3.0,  # Yemen
    992: 3.0,  # Tajikistan
}

# libphonenumber region of a +44 number -> multiplier.  Anything else under +44 is plain UK.
CROWN_DEPENDENCY_MULTIPLIERS: dict[str, float] = {"GG": 2.0, "JE": 2.0, "IM": 2.0}


def is_priced(country_code: int) -> bool:
    """True when we can bill texts to this calling code."""
    return (
        country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
        and country_code not in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    )


def rate_multiplier(country_code: int, region: str | None) -> float:
    """Multiplier for one text; ``region`` is libphonenumber's region code for the number (may be None)."""
    if country_code == UK_COUNTRY_CODE:
        return CROWN_DEPENDENCY_MULTIPLIERS.get(region or "", 1.0)
    return _NON_DEFAULT_MULTIPLIERS.get(country_code, 1.0)
