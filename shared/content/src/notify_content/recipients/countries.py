"""Country names for letter addresses: canonical name, Royal Mail postage zone and accepted synonyms.

Canonical names follow the GOV.UK country register's style ("Czechia", "The Gambia", "United States").  The
zone split follows Royal Mail's international zones: ``europe`` or ``rest-of-world``.  Synonyms include common
English variants and some Welsh names.  Matching is on :func:`country_key` (case, accents, punctuation and a
leading "the" ignored).  Own compilation; extend the tables as needed.
"""

from __future__ import annotations

import re
import unicodedata

EUROPE = "europe"
REST_OF_WORLD = "rest-of-world"

# "Canonical|synonym|synonym" per entry.
_EUROPE = """Albania|Andorra|Armenia|Austria|Awstria|Azerbaijan|Belarus|Belgium|Gwlad Belg
Bosnia and Herzegovina|Bosnia|Bulgaria|Croatia|Cyprus|Czechia|Czech Republic|Denmark|Denmarc|Estonia
Faroe Islands|Finland|Y Ffindir|France|Ffrainc|Georgia|Germany|Yr Almaen|Deutschland|Gibraltar|Greece|Gwlad Groeg
Greenland|Hungary|Iceland|Ireland|Republic of Ireland|Eire|Éire|Iwerddon|Italy|Yr Eidal|Kazakhstan|Kosovo
Kyrgyzstan|Latvia|Liechtenstein|Lithuania|Luxembourg|Malta|Moldova|Monaco|Montenegro
Netherlands|Holland|The Netherlands|Yr Iseldiroedd|North Macedonia|Macedonia|Norway|Norwy|Poland|Gwlad Pwyl
Portugal|Romania|Russia|Russian Federation|San Marino|Serbia|Slovakia|Slovenia|Spain|Sbaen|España
Sweden|Sweden|Switzerland|Y Swistir|Tajikistan|Turkey|Türkiye|Twrci|Turkmenistan|Ukraine|Wcráin|Uzbekistan
Vatican City|Holy See|Azores|Balearic Islands|Canary Islands|Madeira|Corsica|Åland Islands|Svalbard"""

_REST = """Afghanistan|Algeria|Angola|Anguilla|Antigua and Barbuda|Argentina|Aruba|Australia|Awstralia|Bahrain
Bangladesh|Barbados|Belize|Benin|Bermuda|Bhutan|Bolivia|Botswana|Brazil|Brasil|British Virgin Islands|Brunei
Burkina Faso|Burundi|Cambodia|Cameroon|Canada|Cape Verde|Cabo Verde|Cayman Islands|Central African Republic
Chad|Chile|China|Tsieina|People's Republic of China|Colombia|Comoros|Congo|Republic of the Congo
Democratic Republic of the Congo|DRC|Congo (Democratic Republic)|Costa Rica|Cuba|Curaçao|Djibouti|Dominica
Dominican Republic|Ecuador|Egypt|Yr Aifft|El Salvador|Equatorial Guinea|Eritrea|Eswatini|Swaziland|Ethiopia
Falkland Islands|Fiji|French Guiana|French Polynesia|Gabon|The Gambia|Gambia|Ghana|Grenada|Guadeloupe|Guam
Guatemala|Guinea|Guinea-Bissau|Guyana|Haiti|Honduras|Hong Kong|India|Indonesia|Iran|Iraq|Israel
Ivory Coast|Côte d'Ivoire|Jamaica|Japan|Siapan|Jordan|Kenya|Kiribati|Kuwait|Laos|Lebanon|Lesotho|Liberia|Libya
Macao|Macau|Madagascar|Malawi|Malaysia|Maldives|Mali|Marshall Islands|Martinique|Mauritania|Mauritius|Mayotte
Mexico|Micronesia|Mongolia|Montserrat|Morocco|Mozambique|Myanmar (Burma)|Myanmar|Burma|Namibia|Nauru|Nepal
New Caledonia|New Zealand|Seland Newydd|Nicaragua|Niger|Nigeria|North Korea|Oman|Pakistan|Palau
Occupied Palestinian Territories|Palestine|Palestinian Territories|Panama|Papua New Guinea|Paraguay|Peru|Philippines
Pitcairn, Henderson, Ducie and Oeno Islands|Pitcairn Islands|Puerto Rico|Qatar|Réunion|Rwanda|Samoa
São Tomé and Principe|Sao Tome and Principe|Saudi Arabia|Senegal|Seychelles|Sierra Leone|Singapore
Sint Maarten|Solomon Islands|Somalia|South Africa|De Affrica|South Korea|Korea|Republic of Korea|South Sudan
Sri Lanka|St Helena, Ascension and Tristan da Cunha|St Helena|St Kitts and Nevis|Saint Kitts and Nevis
St Lucia|Saint Lucia|St Vincent|Saint Vincent and the Grenadines|St Vincent and the Grenadines|Sudan|Suriname
Syria|Taiwan|Tanzania|Thailand|Timor-Leste|East Timor|Togo|Tonga|Trinidad and Tobago|Tunisia
Turks and Caicos Islands|Tuvalu|Uganda|United Arab Emirates|UAE|United States|United States of America|USA|US
America|Yr Unol Daleithiau|Uruguay|Vanuatu|Venezuela|Vietnam|Viet Nam|Western Sahara|Yemen|Zambia|Zimbabwe
The Bahamas|Bahamas"""

# Which names in the tables above are synonyms, and of which canonical name; every other name is canonical.
_SYNONYMS_OF = {
    "Austria": ["Awstria"],
    "Belgium": ["Gwlad Belg"],
    "Bosnia and Herzegovina": ["Bosnia"],
    "Czechia": ["Czech Republic"],
    "Denmark": ["Denmarc"],
    "Finland": ["Y Ffindir"],
    "France": ["Ffrainc"],
    "Germany": ["Yr Almaen", "Deutschland"],
    "Greece": ["Gwlad Groeg"],
    "Ireland": ["Republic of Ireland", "Eire", "Éire", "Iwerddon"],
    "Italy": ["Yr Eidal"],
    "Netherlands": ["Holland", "The Netherlands", "Yr Iseldiroedd"],
    "North Macedonia": ["Macedonia"],
    "Norway": ["Norwy"],
    "Poland": ["Gwlad Pwyl"],
    "Russia": ["Russian Federation"],
    "Spain": ["Sbaen", "España"],
    "Switzerland": ["Y Swistir"],
    "Turkey": ["Türkiye", "Twrci"],
    "Ukraine": ["Wcráin"],
    "Vatican City": ["Holy See"],
    "Australia": ["Awstralia"],
    "Brazil": ["Brasil"],
    "Cape Verde": ["Cabo Verde"],
    "China": ["Tsieina", "People's Republic of China"],
    "Congo": ["Republic of the Congo"],
    "Democratic Republic of the Congo": ["DRC", "Congo (Democratic Republic)"],
    "Egypt": ["Yr Aifft"],
    "Eswatini": ["Swaziland"],
    "The Gambia": ["Gambia"],
    "Ivory Coast": ["Côte d'Ivoire"],
    "Japan": ["Siapan"],
    "Macao": ["Macau"],
    "Myanmar (Burma)": ["Myanmar", "Burma"],
    "New Zealand": ["Seland Newydd"],
    "Occupied Palestinian Territories": ["Palestine", "Palestinian Territories"],
    "Pitcairn, Henderson, Ducie and Oeno Islands": ["Pitcairn Islands"],
    "São Tomé and Principe": ["Sao Tome and Principe"],
    "South Africa": ["De Affrica"],
    "South Korea": ["Korea", "Republic of Korea"],
    "St Helena, Ascension and Tristan da Cunha": ["St Helena"],
    "St Kitts and Nevis": ["Saint Kitts and Nevis"],
    "St Lucia": ["Saint Lucia"],
    "St Vincent": ["Saint Vincent and the Grenadines", "St Vincent and the Grenadines"],
    "Timor-Leste": ["East Timor"],
    "United Arab Emirates": ["UAE"],
    "United States": ["United States of America", "USA", "US", "America", "Yr Unol Daleithiau"],
    "Vietnam": ["Viet Nam"],
    "The Bahamas": ["Bahamas"],
}

# Lines naming the UK or one of its islands: dropped from the end of an address (the letter is domestic).
UK_NAMES = """United Kingdom|UK|U.K.|U K|Great Britain|GB|G.B.|Britain|England|Lloegr|Scotland|Yr Alban|Wales|Cymru
Northern Ireland|Gogledd Iwerddon|Y Deyrnas Unedig|Channel Islands|Jersey|Guernsey|Alderney|Sark|Isle of Man
Isle of Wight|Isles of Scilly"""

_NON_WORD = re.compile(r"[^\w\s]")


def country_key(text: str) -> str:
    """Matching key: accents and punctuation dropped, ``&`` read as "and", case and a leading "the" ignored."""
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    words = _NON_WORD.sub("", plain).split()
    if words[:1] == ["the"] and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def _names(block: str) -> list[str]:
    return [name.strip() for line in block.splitlines() for name in line.split("|") if name.strip()]


def _build() -> dict[str, tuple[str, str]]:
    synonym_to_canonical = {syn: canon for canon, syns in _SYNONYMS_OF.items() for syn in syns}
    table: dict[str, tuple[str, str]] = {}
    for zone, block in ((EUROPE, _EUROPE), (REST_OF_WORLD, _REST)):
        for name in _names(block):
            canonical = synonym_to_canonical.get(name, name)
            table[country_key(name)] = (canonical, zone)
    return table


# key -> (canonical name, zone).  Built once from the literal tables above; no I/O.
COUNTRIES: dict[str, tuple[str, str]] = _build()
UK_KEYS: frozenset[str] = frozenset(country_key(name) for name in _names(UK_NAMES))


def find_country(line: str) -> tuple[str, str] | None:
    """``(canonical name, postage zone)`` when ``line`` names a non-UK country, else None."""
    return COUNTRIES.get(country_key(line)) if line.strip() else None


def is_uk_name(line: str) -> bool:
    return bool(line.strip()) and country_key(line) in UK_KEYS
