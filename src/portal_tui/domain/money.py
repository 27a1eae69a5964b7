"""Money as Stripe counts it: integer minor units per currency, parsed from and formatted for people."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Stripe's amount fields hold at most 8 digits (99,999,999 minor units: $999,999.99).
MAX_MINOR_UNITS = 99_999_999
# unit_amount_decimal allows at most 12 decimal places of the minor unit.
MAX_DECIMAL_PLACES = 12


class AmountError(ValueError):
    """An amount a person typed that cannot be billed exactly; `str(err)` is fit to show at the field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Currency:
    """One currency as Stripe uses it: lower-case code, minor-unit exponent, and a symbol when unambiguous."""

    code: str
    exponent: int
    symbol: str | None = None

    @property
    def label(self) -> str:
        return self.code.upper()


_ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
_THREE_DECIMAL = "bhd jod kwd omr tnd"
_SYMBOLS = {
    "usd": "$",
    "eur": "€",
    "gbp": "£",
    "jpy": "¥",
    "inr": "₹",
    "krw": "₩",
    "ils": "₪",
    "ngn": "₦",
    "php": "₱",
    "thb": "฿",
    "vnd": "₫",
    "uah": "₴",
    "try": "₺",
    "pln": "zł",
    "rub": "₽",
    "cny": "CN¥",
    "aud": "A$",
    "cad": "CA$",
    "nzd": "NZ$",
    "hkd": "HK$",
    "sgd": "S$",
    "mxn": "MX$",
    "brl": "R$",
    "twd": "NT$",
    "chf": "CHF ",
    "zar": "R ",
}
# Every currency Stripe settles or presents (https://docs.stripe.com/currencies), lower-case like the API.
_ALL = (
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd bwp byn bzd cad cdf "
    "chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf gtq gyd hkd hnl htg "
    "huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk "
    "mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub "
    "rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx usd uyu uzs vnd "
    "vuv wst xaf xcd xof xpf yer zar zmw"
)


def _exponent(code: str) -> int:
    if code in _ZERO_DECIMAL.split():
        return 0
    if code in _THREE_DECIMAL.split():
        return 3
    return 2


CURRENCIES: dict[str, Currency] = {
    code: Currency(code, _exponent(code), _SYMBOLS.get(code)) for code in sorted(_ALL.split())
}


def get_currency(code: str) -> Currency:
    """The currency for an ISO code in any case; AmountError for a code Stripe does not know."""
    key = code.strip().lower()
    try:
        return CURRENCIES[key]
    except KeyError:
        shown = code.strip() or "(empty)"
        raise AmountError(f"Unknown currency '{shown}'") from None


# ASCII digits only: `\d` and Decimal() also take Arabic-Indic or full-width digits, which nobody means here.
_NUMBER = re.compile(r"^(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]*))?$|^\.(?P<frac_only>[0-9]+)$")
_GROUPED = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$")
# A run of text that is not part of a number: a currency symbol or code before or after the amount.
_PREFIX = re.compile(r"^[^0-9.,\s_-]+")
_SUFFIX = re.compile(r"[^0-9.,\s_-]+$")
_ANY_SYMBOL = {c.symbol.strip(): c for c in CURRENCIES.values() if c.symbol}


def _strip_currency(body: str, cur: Currency, raw: str) -> str:
    """`body` without the currency's own symbol or code ("$5", "AED 1,234.50", "12 eur"); refuses another's."""
    code = cur.code.upper()
    if body.upper().startswith(code):
        return body[len(code) :].strip()
    if body.upper().endswith(code):
        return body[: -len(code)].strip()
    own = cur.symbol.strip() if cur.symbol else None
    if own and body.startswith(own):
        return body[len(own) :].strip()
    if own and body.endswith(own):
        return body[: -len(own)].strip()
    for found in (_PREFIX.search(body), _SUFFIX.search(body)):
        if found is None:
            continue
        mark = found.group(0)
        marks = f"'{own}' or {code}" if own else code
        accepted = f"write the amount alone, or with {marks}"
        if mark.lower() in CURRENCIES:
            raise AmountError(f"This price is in {code}, not {mark.upper()}: {accepted}")
        if mark in _ANY_SYMBOL or any(ch in "$€£¥₹₩" for ch in mark):
            raise AmountError(f"'{mark}' is not the symbol for {code}: {accepted}")
        if any(ch.isdigit() for ch in mark):
            raise AmountError(f"'{raw}' is not a number: use the digits 0-9")
    return body


def _clean_number(text: str, cur: Currency) -> Decimal:
    """Decimal value of what a person typed: '1,234.50', ' 12 ', '0.5', '$5'. Refuses anything ambiguous."""
    raw = text.strip()
    if not raw:
        raise AmountError("Enter an amount")
    body = raw
    negative = body.startswith("-")
    body = _strip_currency(body.removeprefix("-").strip(), cur, raw)
    if negative or body.startswith("-"):
        raise AmountError("The amount cannot be negative")
    stripped = body.replace("_", "")
    if any(ch.isdigit() and not ch.isascii() for ch in stripped):
        raise AmountError(f"'{raw}' is not a number: use the digits 0-9")
    if "," in stripped:
        if not _GROUPED.match(stripped):
            raise AmountError(f"'{raw}' is not a number: use a dot for decimals, like 1234.50")
        stripped = stripped.replace(",", "")
    if not _NUMBER.match(stripped):
        raise AmountError(f"'{raw}' is not a number")
    try:
        return Decimal(stripped)
    except InvalidOperation:
        raise AmountError(f"'{raw}' is not a number") from None


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def parse_amount(text: str, currency: str) -> int:
    """Minor units for what a person typed: "1,234.50" USD -> 123450; refuses what is not exact."""
    cur = get_currency(currency)
    value = _clean_number(text, cur)
    if _places(value) > cur.exponent:
        if cur.exponent == 0:
            raise AmountError(f"{cur.label} has no decimals: enter a whole amount")
        raise AmountError(f"Use at most {cur.exponent} decimals for {cur.label}")
    minor = int(value.scaleb(cur.exponent))
    if cur.exponent == 3 and minor % 10:
        raise AmountError(f"Stripe requires {cur.label} amounts to end in 0 (e.g. 1.230)")
    if minor > MAX_MINOR_UNITS:
        biggest = format_money(MAX_MINOR_UNITS, cur.code)
        raise AmountError(f"That is more than Stripe accepts for one price ({biggest})")
    return minor


def parse_quantity(text: str) -> int:
    """A whole, non-negative quantity as people write it: "12000", "12,000", "12_000" -> 12000.

    Only ASCII digits: `str.isdigit` alone accepts "²", which `int` then refuses."""
    raw = text.strip().replace(",", "").replace("_", "")
    if raw.isascii() and raw.isdigit():
        return int(raw)
    if raw.startswith("-") and raw[1:].isascii() and raw[1:].isdigit():
        raise AmountError(f"{text.strip()!r} is negative: quantities start at 0")
    raise AmountError(f"{text.strip()!r} is not a whole number")


def parse_unit_amount(text: str, currency: str) -> Decimal:
    """Decimal minor units for a per-unit price, fractional minor units ("0.0004" USD -> 0.04)."""
    cur = get_currency(currency)
    value = _clean_number(text, cur)
    minor = value.scaleb(cur.exponent)
    if _places(minor) > MAX_DECIMAL_PLACES:
        smallest = Decimal(1).scaleb(-(MAX_DECIMAL_PLACES + cur.exponent))
        raise AmountError(f"Too many decimals: the smallest {cur.label} unit price is {smallest:f}")
    if minor > MAX_MINOR_UNITS:
        biggest = format_money(MAX_MINOR_UNITS, cur.code)
        raise AmountError(f"That is more than Stripe accepts for one price ({biggest})")
    return minor.normalize() if minor != minor.to_integral_value() else minor.quantize(Decimal(1))


def _group(digits: str) -> str:
    return f"{int(digits):,}"


def format_money(amount: int | Decimal, currency: str) -> str:
    """ "$1,234.50", "¥1,235", "BHD 1.230", "$0.0004": the one way the app shows money."""
    cur = get_currency(currency)
    value = Decimal(amount).scaleb(-cur.exponent)
    sign = "-" if value < 0 else ""
    value = abs(value)
    places = max(cur.exponent, _places(value))
    text = f"{value:.{places}f}"
    whole, _, frac = text.partition(".")
    body = _group(whole) + (f".{frac}" if frac else "")
    if cur.symbol is None:
        return f"{sign}{cur.label} {body}"
    return f"{sign}{cur.symbol}{body}"


def format_amount_input(amount: int | Decimal, currency: str) -> str:
    """Plain text to pre-fill an amount field, the inverse of parse_amount: 123450 USD -> "1234.50"."""
    cur = get_currency(currency)
    value = Decimal(amount).scaleb(-cur.exponent)
    places = max(cur.exponent, _places(value))
    return f"{value:.{places}f}"


def round_minor(value: Decimal) -> int:
    """Whole minor units for a computed line total: nearest, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
