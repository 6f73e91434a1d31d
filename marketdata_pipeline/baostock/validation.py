"""Client-side checks of query parameters, run before anything is sent.

Each check returns the value as it goes on the wire (codes in `sh.600000`
form, dates as `YYYY-MM-DD`) or raises `BadParameterError` naming the input
and the fix. The official client sends most bad input to the server and prints
the answer; here it never leaves the process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import time
from collections.abc import Iterable

from baostock.common import contants as cons
from baostock.login.loginout import ALPHABET as API_KEY_ALPHABET
from baostock.login.loginout import calculate_checksum as api_key_checksum

from marketdata_pipeline.baostock.errors import BadParameterError
from marketdata_pipeline.baostock.fields import FIELDS_BY_FREQUENCY

FREQUENCIES = tuple(FIELDS_BY_FREQUENCY)
ADJUSTFLAGS = ("1", "2", "3")

_CODE = re.compile(r"(sh|sz|bj)\.\d{6}")
_SUFFIXED_CODE = re.compile(r"(\d{6})\.(sh|sz|bj)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# "bs-", 2 role characters, 27 payload characters, 1 checksum character (official loginout.py)
_API_KEY = re.compile(f"bs-[{API_KEY_ALPHABET}]{{30}}")


def normalize_code(code: str) -> str:
    """`sh.600000`, `SH.600000` or `600000.SH` -> `sh.600000`; anything else is refused."""
    text = code.strip().lower() if isinstance(code, str) else ""
    if _CODE.fullmatch(text):
        return text
    suffixed = _SUFFIXED_CODE.fullmatch(text)
    if suffixed:
        return f"{suffixed.group(2)}.{suffixed.group(1)}"
    raise BadParameterError(
        f"code {code!r} is not a security code; write it as sh.600000, sz.000001, bj.430047 or 600000.SH",
        cons.BSERR_CODE_INVALIED,
    )


def normalize_optional_code(code: str | None) -> str:
    """Like `normalize_code`, but an empty or None code stays empty (meaning: any code)."""
    return "" if code is None or code == "" else normalize_code(code)


def normalize_date(value: str | dt.date | None, name: str, default: str | None = None) -> str:
    """A date as `YYYY-MM-DD`; None or "" take `default` (None: today, as the official client does)."""
    if value is None or value == "":
        return default if default is not None else today()
    if isinstance(value, dt.date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, str) and _DATE.fullmatch(value):
        with contextlib.suppress(ValueError):  # 2024-02-30 has the shape but is no day
            return dt.date.fromisoformat(value).isoformat()
    raise BadParameterError(
        f"{name}={value!r} is not a date; write an existing day as YYYY-MM-DD, e.g. 2024-01-02",
        cons.BSERR_DATE_ERR,
    )


def date_range(start_date: str | dt.date | None, end_date: str | dt.date | None) -> tuple[str, str]:
    """(start, end) with the official defaults (2015-01-01, today); start after end is refused."""
    start = normalize_date(start_date, "start_date", cons.DEFAULT_START_DATE)
    end = normalize_date(end_date, "end_date")
    if start > end:
        raise BadParameterError(
            f"start_date {start} is after end_date {end}; swap them or widen the range",
            cons.BSERR_START_BIGTHAN_END,
        )
    return start, end


def today() -> str:
    """Today in local time, the default end date of the official client."""
    return time.strftime("%Y-%m-%d", time.localtime())


def check_frequency(frequency: str) -> str:
    """d, w, m or 5/15/30/60 (minutes)."""
    return _one_of(frequency, "frequency", FREQUENCIES, f"one of {', '.join(FREQUENCIES)} (as strings)")


def check_adjustflag(adjustflag: str) -> str:
    """1 back-adjusted, 2 forward-adjusted, 3 unadjusted."""
    return _one_of(adjustflag, "adjustflag", ADJUSTFLAGS, "'1' (back), '2' (forward) or '3' (unadjusted)")


def _one_of(value: str, name: str, allowed: tuple[str, ...], choices: str) -> str:
    if value not in allowed:
        raise BadParameterError(f"{name}={value!r} is not supported; use {choices}", cons.BSERR_PARAM_ERR)
    return value


def normalize_fields(fields: str | Iterable[str], frequency: str) -> str:
    """Comma-separated field names, each known at `frequency`, none repeated, spaces removed."""
    names = fields.split(",") if isinstance(fields, str) else list(fields)
    names = [name.strip() if isinstance(name, str) else name for name in names]
    if not names or names == [""]:
        raise BadParameterError(
            "fields is empty; name at least one, e.g. 'date,code,close'", cons.BSERR_PARAM_ERR
        )
    allowed = FIELDS_BY_FREQUENCY[frequency]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise BadParameterError(
            f"fields {unknown!r} are not known at frequency {frequency!r}; "
            f"choose from {','.join(sorted(allowed))}",
            cons.BSERR_INDICATOR_INVALIED,
        )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise BadParameterError(
            f"fields {repeated!r} are repeated; name each once", cons.BSERR_INDICATOR_REPEAT
        )
    return ",".join(names)


def check_per_page(per_page: int) -> int:
    """Rows per page: a positive integer."""
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        raise BadParameterError(
            f"per_page={per_page!r} is not a positive integer; leave the default "
            f"({cons.BAOSTOCK_PER_PAGE_COUNT}) or pass e.g. 10000",
            cons.BSERR_PARAM_ERR,
        )
    return per_page


def check_credentials(user: str, password: str) -> None:
    """User and password must be non-empty strings (the official client checks the same)."""
    for name, value, default, code in (
        ("user", user, "anonymous", cons.BSERR_USERNAME_EMPTY),
        ("password", password, "123456", cons.BSERR_PASSWORD_EMPTY),
    ):
        if not isinstance(value, str) or not value:
            raise BadParameterError(f"{name} is empty; set BAOSTOCK_{name.upper()} or keep {default!r}", code)
        plain_text(value, name)


def plain_text(value: str, name: str) -> str:
    """Free text sent as one field: it may not hold the field separator or the frame's final newline."""
    if not isinstance(value, str) or cons.MESSAGE_SPLIT in value or cons.DELIMITER in value:
        raise BadParameterError(
            # The value is not echoed: this guards the password too.
            f"{name} must be text without the \\x01 separator or a newline; remove them",
            cons.BSERR_PARAM_ERR,
        )
    return value


def check_api_key(api_key: str | None) -> str | None:
    """An API key has the official format: `bs-`, 2 role and 27 payload base62 characters, a checksum."""
    if api_key is None:
        return None
    if not _api_key_is_well_formed(api_key):
        raise BadParameterError(
            "api_key is not a BaoStock API key (33 characters starting with 'bs-', valid checksum); "
            "copy it again from baostock.com or unset BAOSTOCK_API_KEY",
            cons.BSERR_APIKey_FORMAT_INCORRECT,
        )
    return api_key


def _api_key_is_well_formed(api_key: object) -> bool:
    if not isinstance(api_key, str) or not _API_KEY.fullmatch(api_key):
        return False
    return api_key[32] == api_key_checksum(api_key[3:5], api_key[5:32])
