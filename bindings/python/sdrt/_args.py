"""Checked conversions of Python arguments to the C fields they fill: names of the header's
enums, unsigned integers of a field's width, floats and UTF-8 strings. Each error names the
field."""

from __future__ import annotations

import os

from .errors import invalid


def _name_of(table: dict, value: int) -> str:
    for k, v in table.items():
        if v == value:
            return k
    return str(value)


def _enum(table: dict, field: str, value) -> int:
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise invalid(f"{field}: unknown name {value!r}; expected one of "
                          + ", ".join(sorted(table))) from None
    return _uint(field, value, 32)


def _uint(field: str, value, bits: int) -> int:
    if isinstance(value, float) and not value.is_integer():
        raise invalid(f"{field}: expected an integer, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError, OverflowError):
            raise invalid(f"{field}: expected an integer, got {value!r}") from None
    if not 0 <= value < (1 << bits):
        raise invalid(f"{field}: {value} is out of range (0..{(1 << bits) - 1})")
    return value


def _float(field: str, value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(f"{field}: expected a number, got {value!r}") from None


def _utf8(field: str, value) -> bytes:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise invalid(f"{field}: not encodable as UTF-8 ({e})") from None
    else:
        raise TypeError(f"{field}: expected str, got {type(value).__name__}")
    if b"\0" in raw:
        raise invalid(f"{field}: contains a NUL character")
    return raw
