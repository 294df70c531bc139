"""A small, pure, data-driven schema system for decrypted message content.

Content is a msgpack map decoded into Python: ``str`` keys; values ``str``,
``int``, ``bool``, ``bytes``, ``list``, ``dict`` or ``None``. A :class:`KindSpec`
lists the :class:`Field` s of one message kind; each field has a type built
from the classes below, and the whole description is data, so that a kind can
be read, documented and fuzzed without running code specific to it.

Validation rules (docs/protocol.md, "Content schemas", restates them):

* the content must be a map; unknown keys are refused, then required fields
  that are missing, then each field in declaration order, then the kind's
  cross-field ``check`` -- the first problem found is the one reported, so two
  conforming implementations report the same error for the same input;
* an optional field is either absent or valid: ``nil`` is never a value;
* ``bool`` is not an integer and an integer is not a ``bool`` (Python's
  ``bool`` subclasses ``int``, msgpack does not);
* every error is a :class:`~protocol.errors.ContentError` whose message starts
  with the exact path of the offending value, then ``": "``, then the problem,
  and ends with what the field accepts and a valid example:
  ``deployment_notice.states_represented[2]: 'UK' is not a valid code (did you
  mean GB?); expected an ISO 3166-1 alpha-2 country code, e.g. DE``. Path
  syntax: the kind name, ``.field`` for a map key, ``[i]`` for a list index; a
  key that is not a plain identifier is shown as ``[<quoted>]``.

Error messages never echo free text, names or byte strings: they may reach
logs, and those values may be personal data. Only short code-like values
(country codes, enum values, dates, half-years, integers) are quoted, and not
even those beneath a field marked ``personal``; nor, beneath one, is a "did
you mean" suggestion made, since it would tell what the value was. The
examples in the hints are the schema's own (:meth:`FieldType.example`), never
the input's. Messages are deterministic: the same input, the same message.
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .countries import CODE_CORRECTIONS, ISO_3166_ALPHA2
from .errors import ContentError, UsageError
from .limits import DEFAULT_LIMITS, Limits

__all__ = [
    "ENVELOPE_ID_LEN",
    "Bool",
    "Bytes",
    "Check",
    "Country",
    "Date",
    "Enum",
    "EnvelopeId",
    "Field",
    "FieldType",
    "Grade",
    "HalfYear",
    "Int",
    "KindSpec",
    "List",
    "PublicKey",
    "Str",
    "Struct",
    "Text",
    "all_of",
    "in_order",
    "safe_repr",
    "validate_value",
]

ENVELOPE_ID_LEN = 32
"""Length in bytes of an envelope id (a SHA-256 digest of the envelope bytes)."""

Check = Callable[[Mapping[str, Any], str], None]
"""A cross-field rule: called with the validated content and the kind name as the
path prefix; raises :class:`ContentError` whose message starts with a field path."""

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
_KEY_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Cc (C0, DEL, C1), lone surrogates (never valid UTF-8, so never from the wire,
# but a local producer can build them) and the Unicode line/paragraph
# separators, which terminals and viewers render as line breaks.
_FORBIDDEN_IN_STR = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# Free text keeps tab and newline only; '\r' is refused so that one text has
# one byte form (the CLI normalises line endings before sending).
_FORBIDDEN_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
# ASCII digits only: Python's \d and int() also accept other scripts' digits.
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_HALF_YEAR = re.compile(r"([0-9]{4})-H([12])")
# Familiar codes first, so that examples read naturally; the rest for long lists.
_EXAMPLE_COUNTRIES = ("DE", "FR", "NL", "IT", "ES", "TR", "MA")
_ALL_COUNTRIES = tuple(sorted(ISO_3166_ALPHA2 - set(_EXAMPLE_COUNTRIES)))


def safe_repr(value: str, limit: int = 64) -> str:
    """Quote an untrusted string for an error message: escaped and shortened."""
    if len(value) > limit:
        return repr(value[:limit]) + "..."
    return repr(value)


def _type_name(value: object) -> str:
    # msgpack's vocabulary, so that messages read the same whatever the language.
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray):
        return "bytes"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    return type(value).__name__


def _got(value: object) -> str:
    name = _type_name(value)
    if name in ("nil", "bytes"):
        return f"got {name}"
    return f"got {'an' if name[0] in 'aeiou' else 'a'} {name}"


def _render(value: Any, top: bool = True) -> str:
    """An example value as text: scalars as written in a file, containers cut short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.hex() if top else json.dumps(value.hex())
    if isinstance(value, str):
        return value if top else json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        # One item shows the form; the whole list would bury the message.
        more = ", ..." if len(value) > 1 else ""
        return "[" + "".join(_render(v, top=False) for v in value[:1]) + more + "]"
    if isinstance(value, dict):
        items = [f"{json.dumps(k)}: {_render(v, top=False)}" for k, v in list(value.items())[:2]]
        return "{" + ", ".join(items) + (", ..." if len(value) > 2 else "") + "}"
    return str(value)


def _fold(text: str) -> str:
    return re.sub(r"[\s-]+", "_", text.strip()).casefold()


def _near_miss(text: str, allowed: Sequence[str]) -> str | None:
    """The allowed value ``text`` was probably meant to be, or ``None``.

    A difference of case, hyphens or spaces for underscores, or a close spelling
    (difflib, which is deterministic) counts.
    """
    folded = [_fold(v) for v in allowed]
    mine = _fold(text)
    if mine in folded:
        return allowed[folded.index(mine)]
    close = difflib.get_close_matches(mine, folded, n=1, cutoff=0.8)
    return allowed[folded.index(close[0])] if close else None


def _key_path(path: str, key: str) -> str:
    if _KEY_SEGMENT.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{safe_repr(key)}]"


def _str_header(n: int) -> int:
    return 1 if n < 32 else 2 if n < 256 else 3 if n < 65536 else 5


def _int_size(n: int) -> int:
    if -32 <= n <= 127:
        return 1
    m = n if n >= 0 else -n - 1
    return 2 if m < 2**7 else 3 if m < 2**15 else 5 if m < 2**31 else 9


def _container_header(n: int) -> int:
    return 1 if n < 16 else 3 if n < 65536 else 5


@dataclass(frozen=True)
class _Ctx:
    limits: Limits
    # Set beneath a personal field: the value must not appear in the message.
    quiet: bool


def _fail(path: str, problem: str, hint: str | None = None) -> ContentError:
    return ContentError(f"{path}: {problem}" + (f"; {hint}" if hint else ""))


class FieldType(ABC):
    """The type of a field: validates one value and describes itself."""

    @abstractmethod
    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        """Return the validated (normalised) value or raise ContentError at ``path``."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, for generated reference documentation."""

    @abstractmethod
    def expected(self) -> str:
        """What a valid value looks like, as the words after "expected" in a message."""

    @abstractmethod
    def example_value(self, index: int = 0) -> Any:
        """A valid value, as content holds it (``bytes`` for an envelope id).

        Different ``index`` give different values where the type has several, so
        that a list of distinct items can be built from them.
        """

    def example(self) -> str:
        """A valid value as text, as a hint shows it: ``2026-11-30``, ``DE``, ``["DE"]``."""
        return _render(self.example_value())

    def hint(self) -> str:
        """The end of every error message about a value of this type."""
        return f"expected {self.expected()}, e.g. {self.example()}"

    @abstractmethod
    def max_encoded_size(self, limits: Limits) -> int:
        """Upper bound on the canonical msgpack size of any valid value."""

    def depth(self) -> int:
        """Nesting depth below this value (0 for a scalar)."""
        return 0

    def personal_paths(self, prefix: str) -> list[str]:
        """Paths of nested fields marked personal, under ``prefix``."""
        return []


def _check_string(
    value: object,
    path: str,
    ctx: _Ctx,
    owner: FieldType,
    *,
    max_len: int,
    min_len: int,
    forbidden: re.Pattern[str],
) -> str:
    if not isinstance(value, str):
        raise _fail(path, _got(value), owner.hint())
    bad = forbidden.search(value)
    if bad is not None:
        raise _fail(
            path,
            f"character U+{ord(bad.group()):04X} at position {bad.start()} is not allowed",
            owner.hint(),
        )
    n = len(value)
    if n > max_len:
        raise _fail(path, f"too long ({n} characters, at most {max_len})", owner.hint())
    if n < min_len:
        if n == 0:
            raise _fail(path, "must not be empty", owner.hint())
        raise _fail(path, f"too short ({n} characters, at least {min_len})", owner.hint())
    if min_len > 0 and not value.strip():
        raise _fail(path, "must not be blank", owner.hint())
    # A schema bound is in characters, the decoder's cap in bytes: refuse here
    # what a peer's decoder would refuse, so the producer learns it first.
    size = len(value.encode("utf-8"))
    if size > ctx.limits.max_str_bytes:
        raise _fail(
            path,
            f"too long in UTF-8 ({size} bytes, at most {ctx.limits.max_str_bytes})",
            owner.hint(),
        )
    return str(value)


def _check_bounds(max_len: int, min_len: int) -> None:
    if min_len < 0 or max_len < 1 or max_len < min_len:
        raise UsageError(f"string bounds {min_len}..{max_len} are not a valid range")


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}..{high}"


def _fit(text: str, min_len: int, max_len: int) -> str:
    """``text`` cut or padded to the bounds, so an example is valid whatever they are."""
    return text[:max_len].ljust(min_len, "x")


@dataclass(frozen=True)
class Str(FieldType):
    """A one-line string: ``min_len``..``max_len`` characters, no control characters,
    optionally matching ``pattern`` (a Python regular expression, whole string).

    A pattern needs a ``sample``, a value that matches it, since no example can be
    made up from an arbitrary regular expression.
    """

    max_len: int
    min_len: int = 1
    pattern: str | None = None
    sample: str | None = None

    def __post_init__(self) -> None:
        _check_bounds(self.max_len, self.min_len)
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise UsageError(f"invalid pattern {self.pattern!r}: {exc}") from None
            if self.sample is None:
                raise UsageError(f"a string with pattern {self.pattern!r} needs a sample")
        if self.sample is not None:
            try:
                self.validate(self.sample, "sample", _Ctx(DEFAULT_LIMITS, quiet=True))
            except ContentError as exc:
                raise UsageError(f"the sample does not fit its own type: {exc}") from None

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        text = _check_string(
            value,
            path,
            ctx,
            self,
            max_len=self.max_len,
            min_len=self.min_len,
            forbidden=_FORBIDDEN_IN_STR,
        )
        # re caches compiled patterns, so this does not recompile per call.
        if self.pattern is not None and re.fullmatch(self.pattern, text) is None:
            raise _fail(path, "does not have the required form", self.hint())
        return text

    def describe(self) -> str:
        out = f"string, {self.min_len}..{self.max_len} characters"
        return out + (f", matching {self.pattern}" if self.pattern else "")

    def expected(self) -> str:
        out = f"a string of {_span(self.min_len, self.max_len)} characters"
        return out + (f" matching {self.pattern}" if self.pattern else "")

    def example_value(self, index: int = 0) -> Any:
        if self.sample is not None:
            return self.sample
        return _fit("Example" if index == 0 else f"Example {index + 1}", self.min_len, self.max_len)

    def max_encoded_size(self, limits: Limits) -> int:
        n = min(4 * self.max_len, limits.max_str_bytes)
        return _str_header(n) + n


@dataclass(frozen=True)
class Text(FieldType):
    """Free text: like :class:`Str` but tab and newline are allowed."""

    max_len: int
    min_len: int = 1

    def __post_init__(self) -> None:
        _check_bounds(self.max_len, self.min_len)

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        return _check_string(
            value,
            path,
            ctx,
            self,
            max_len=self.max_len,
            min_len=self.min_len,
            forbidden=_FORBIDDEN_IN_TEXT,
        )

    def describe(self) -> str:
        return f"free text, {self.min_len}..{self.max_len} characters"

    def expected(self) -> str:
        return f"free text of {_span(self.min_len, self.max_len)} characters"

    def example_value(self, index: int = 0) -> Any:
        text = "Free text." if index == 0 else f"Free text {index + 1}."
        return _fit(text, self.min_len, self.max_len)

    def max_encoded_size(self, limits: Limits) -> int:
        n = min(4 * self.max_len, limits.max_str_bytes)
        return _str_header(n) + n


@dataclass(frozen=True)
class Int(FieldType):
    """An integer in ``min``..``max`` inclusive; never a bool."""

    min: int
    max: int

    def __post_init__(self) -> None:
        if self.min > self.max:
            raise UsageError(f"integer bounds {self.min}..{self.max} are not a valid range")
        if self.min < -(2**63) or self.max >= 2**64:
            raise UsageError("integer bounds must fit msgpack's 64-bit integers")

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, _got(value), self.hint())
        if not self.min <= value <= self.max:
            shown = "the value" if ctx.quiet else str(int(value))
            raise _fail(path, f"{shown} is out of range", self.hint())
        return int(value)

    def describe(self) -> str:
        return f"integer, {self.min}..{self.max}"

    def expected(self) -> str:
        return f"an integer {self.min}..{self.max}"

    def example_value(self, index: int = 0) -> Any:
        # 1 where the range allows it: a count, a version or a grade all start there.
        first = min(max(1, self.min), self.max)
        return self.min + (first - self.min + index) % (self.max - self.min + 1)

    def max_encoded_size(self, limits: Limits) -> int:
        return max(_int_size(self.min), _int_size(self.max))


@dataclass(frozen=True)
class Bool(FieldType):
    """``true`` or ``false``; never an integer."""

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, bool):
            raise _fail(path, _got(value), self.hint())
        return value

    def describe(self) -> str:
        return "boolean"

    def expected(self) -> str:
        return "true or false"

    def example_value(self, index: int = 0) -> Any:
        return index % 2 == 0

    def max_encoded_size(self, limits: Limits) -> int:
        return 1


def _code_like(
    value: object, path: str, ctx: _Ctx, owner: FieldType, max_len: int
) -> tuple[str, str | None]:
    """Type-check a short code string; return it and how to quote it in an error
    (``None`` when it must not or need not be quoted, and so neither corrected)."""
    if not isinstance(value, str):
        raise _fail(path, _got(value), owner.hint())
    if ctx.quiet:
        return value, None
    if len(value) > max_len or not value.isprintable():
        # Quoting a long or unprintable value tells the reader nothing useful.
        return value, None
    return value, repr(value)


def _shown(value: str, quoted: str | None, ctx: _Ctx) -> str:
    if quoted is not None:
        return quoted
    return "the value" if ctx.quiet else f"a string of {len(value)} characters"


def _did_you_mean(suggestion: str | None) -> str:
    return f" (did you mean {suggestion}?)" if suggestion is not None else ""


@dataclass(frozen=True)
class Date(FieldType):
    """A calendar date as ISO 8601 ``YYYY-MM-DD`` that exists (no 2026-02-30)."""

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        text, quoted = _code_like(value, path, ctx, self, 16)
        m = _DATE.fullmatch(text)
        if m is None:
            raise _fail(path, f"{_shown(text, quoted, ctx)} is not a date", self.hint())
        try:
            datetime.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            problem = f"{_shown(text, quoted, ctx)} is not a real calendar date"
            raise _fail(path, problem, self.hint()) from None
        return str(text)

    def describe(self) -> str:
        return "date, YYYY-MM-DD"

    def expected(self) -> str:
        return "a date YYYY-MM-DD"

    def example_value(self, index: int = 0) -> Any:
        return (datetime.date(2026, 11, 30) - datetime.timedelta(days=index)).isoformat()

    def max_encoded_size(self, limits: Limits) -> int:
        return 11


@dataclass(frozen=True)
class Country(FieldType):
    """An ISO 3166-1 alpha-2 code, upper case, or one of ``extra`` (e.g. ``'COM'``)."""

    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.extra, str):
            raise UsageError("extra party codes must be a sequence of strings, not one string")
        object.__setattr__(self, "extra", tuple(self.extra))
        for code in self.extra:
            if not re.fullmatch(r"[A-Z]{3,8}", code):
                raise UsageError(f"extra party code {code!r} must be 3-8 upper-case letters")

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        text, quoted = _code_like(value, path, ctx, self, 16)
        if text in ISO_3166_ALPHA2 or text in self.extra:
            return str(text)
        problem = f"{_shown(text, quoted, ctx)} is not a valid code"
        if quoted is not None:
            problem += self._correction(text)
        raise _fail(path, problem, self.hint())

    def _accepts(self, code: str) -> bool:
        return code in ISO_3166_ALPHA2 or code in self.extra

    def _correction(self, text: str) -> str:
        upper = text.upper()
        corrected = CODE_CORRECTIONS.get(upper)
        if corrected is not None and self._accepts(corrected):
            return _did_you_mean(corrected)
        if upper != text and self._accepts(upper):
            return f" (codes are upper case: did you mean {upper}?)"
        return ""

    def describe(self) -> str:
        out = "ISO 3166-1 alpha-2 country code"
        return out + (" or " + ", ".join(self.extra) if self.extra else "")

    def expected(self) -> str:
        out = "an ISO 3166-1 alpha-2 country code"
        return out + (" or one of " + ", ".join(self.extra) if self.extra else "")

    def example_value(self, index: int = 0) -> Any:
        if index < len(_EXAMPLE_COUNTRIES):
            return _EXAMPLE_COUNTRIES[index]
        return _ALL_COUNTRIES[(index - len(_EXAMPLE_COUNTRIES)) % len(_ALL_COUNTRIES)]

    def max_encoded_size(self, limits: Limits) -> int:
        longest = max([2, *(len(c) for c in self.extra)])
        return 1 + longest


@dataclass(frozen=True)
class Enum(FieldType):
    """One of a fixed set of snake_case strings."""

    values: tuple[str, ...]

    _VALUE: ClassVar[re.Pattern[str]] = _IDENTIFIER
    _VALUE_RULE: ClassVar[str] = "a snake_case identifier"

    def __post_init__(self) -> None:
        if isinstance(self.values, str):
            raise UsageError("enum values must be a sequence of strings, not one string")
        values = tuple(self.values)
        object.__setattr__(self, "values", values)
        if not values or len(set(values)) != len(values):
            raise UsageError("enum values must be non-empty and distinct")
        for v in values:
            if not self._VALUE.fullmatch(v) or len(v) > 64:
                raise UsageError(f"enum value {v!r} must be {self._VALUE_RULE}")

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        text, quoted = _code_like(value, path, ctx, self, 64)
        if text in self.values:
            return str(text)
        problem = f"{_shown(text, quoted, ctx)} is not an allowed value"
        if quoted is not None:
            problem += _did_you_mean(_near_miss(text, self.values))
        raise _fail(path, problem, self.hint())

    def describe(self) -> str:
        return "one of: " + ", ".join(self.values)

    def expected(self) -> str:
        return "one of: " + ", ".join(self.values)

    def example_value(self, index: int = 0) -> Any:
        return self.values[index % len(self.values)]

    def max_encoded_size(self, limits: Limits) -> int:
        return 1 + max(len(v) for v in self.values)


@dataclass(frozen=True)
class Grade(Enum):
    """One of a fixed set of short upper-case codes, such as the evaluation grades
    ``A``, ``B``, ``C``, ``X`` (:mod:`protocol.evaluation`): an :class:`Enum` whose
    values are written as codes, not snake_case words."""

    _VALUE: ClassVar[re.Pattern[str]] = re.compile(r"[A-Z0-9]{1,8}")
    _VALUE_RULE: ClassVar[str] = "1-8 upper-case letters or digits"


@dataclass(frozen=True)
class HalfYear(FieldType):
    """A half-year of a calendar year: ``YYYY-H1`` (January-June) or ``YYYY-H2``."""

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        text, quoted = _code_like(value, path, ctx, self, 16)
        m = _HALF_YEAR.fullmatch(text)
        if m is None or int(m[1]) < 1:
            raise _fail(path, f"{_shown(text, quoted, ctx)} is not a half-year", self.hint())
        return str(text)

    def describe(self) -> str:
        return "half-year, YYYY-H1 or YYYY-H2"

    def expected(self) -> str:
        return "a half-year YYYY-H1 (January-June) or YYYY-H2"

    def example_value(self, index: int = 0) -> Any:
        halves = 2026 * 2 + 1 - index  # 2026-H2 first, then back in time
        return f"{halves // 2}-H{halves % 2 + 1}"

    def max_encoded_size(self, limits: Limits) -> int:
        return 8


@dataclass(frozen=True)
class EnvelopeId(FieldType):
    """The id of an envelope: exactly 32 bytes (msgpack ``bin``)."""

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, bytes):
            raise _fail(path, _got(value), self.hint())
        if len(value) != ENVELOPE_ID_LEN:
            raise _fail(path, f"{len(value)} bytes, not {ENVELOPE_ID_LEN}", self.hint())
        return bytes(value)

    def describe(self) -> str:
        return f"envelope id, {ENVELOPE_ID_LEN} bytes"

    def expected(self) -> str:
        return f"an envelope id of {ENVELOPE_ID_LEN} bytes ({2 * ENVELOPE_ID_LEN} hex digits)"

    def example_value(self, index: int = 0) -> Any:
        return bytes([(0x5E + index) % 256]) * ENVELOPE_ID_LEN

    def max_encoded_size(self, limits: Limits) -> int:
        return 2 + ENVELOPE_ID_LEN


@dataclass(frozen=True)
class PublicKey(FieldType):
    """A raw 32-byte public key (Ed25519 or X25519), msgpack ``bin``."""

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, bytes):
            raise _fail(path, _got(value), self.hint())
        if len(value) != 32:
            raise _fail(path, f"{len(value)} bytes, not 32", self.hint())
        return bytes(value)

    def describe(self) -> str:
        return "public key, 32 bytes"

    def expected(self) -> str:
        return "a public key of 32 bytes (64 hex digits)"

    def example_value(self, index: int = 0) -> Any:
        return bytes([(0x1F + index) % 256]) * 32

    def max_encoded_size(self, limits: Limits) -> int:
        return 2 + 32


@dataclass(frozen=True)
class Bytes(FieldType):
    """Exactly ``length`` bytes (msgpack ``bin``) of some binary value, such as a key."""

    length: int
    what: str = "bytes"

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, bytes):
            raise _fail(path, _got(value), self.hint())
        if len(value) != self.length:
            raise _fail(path, f"{len(value)} bytes, not {self.length}", self.hint())
        return bytes(value)

    def describe(self) -> str:
        return f"{self.what}, {self.length} bytes"

    def expected(self) -> str:
        return f"{self.what} of {self.length} bytes ({2 * self.length} hex digits)"

    def example_value(self, index: int = 0) -> Any:
        return bytes([(0x2A + index) % 256]) * self.length

    def max_encoded_size(self, limits: Limits) -> int:
        return 3 + self.length


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a validated value, for duplicate detection."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    # bool and int must not collide (True == 1 in Python).
    return (type(value).__name__, value)


@dataclass(frozen=True)
class List(FieldType):
    """A list of ``item`` values, ``min_items``..``max_items`` long.

    ``unique`` refuses equal items; ``unique_by`` names a field of a
    :class:`Struct` item that no two items may share (e.g. one count per
    nationality).
    """

    item: FieldType
    max_items: int
    min_items: int = 0
    unique: bool = False
    unique_by: str | None = None

    def __post_init__(self) -> None:
        if self.min_items < 0 or self.max_items < max(self.min_items, 1):
            raise UsageError(f"list bounds {self.min_items}..{self.max_items} are not valid")
        if self.max_items > DEFAULT_LIMITS.max_container_len:
            raise UsageError(
                f"max_items {self.max_items} exceeds the decoder's cap "
                f"{DEFAULT_LIMITS.max_container_len}"
            )
        if self.unique_by is not None and not (
            isinstance(self.item, Struct) and self.unique_by in self.item.names()
        ):
            raise UsageError(f"unique_by {self.unique_by!r} is not a field of the list's items")

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, list | tuple):
            raise _fail(path, _got(value), self.hint())
        n = len(value)
        # Count first: refuse an oversized list before validating any item.
        if n > self.max_items:
            raise _fail(path, f"too many items ({n}, at most {self.max_items})", self.hint())
        if n < self.min_items:
            raise _fail(path, f"too few items ({n}, at least {self.min_items})", self.hint())
        if n > ctx.limits.max_container_len:
            cap = ctx.limits.max_container_len
            raise _fail(path, f"too many items ({n}, at most {cap})", self.hint())
        out = [self.item.validate(v, f"{path}[{i}]", ctx) for i, v in enumerate(value)]
        if self.unique or self.unique_by is not None:
            seen: dict[Any, int] = {}
            for i, v in enumerate(out):
                if self.unique_by is not None:
                    key, where = _freeze(v[self.unique_by]), f"{path}[{i}].{self.unique_by}"
                else:
                    key, where = _freeze(v), f"{path}[{i}]"
                if key in seen:
                    raise _fail(where, f"duplicate of item {seen[key]}", self.hint())
                seen[key] = i
        return out

    def describe(self) -> str:
        extra = ", distinct" if self.unique else ""
        if self.unique_by:
            extra = f", distinct {self.unique_by}"
        return f"list of {self.min_items}..{self.max_items}{extra}: {self.item.describe()}"

    def expected(self) -> str:
        span = _span(self.min_items, self.max_items)
        if self.unique_by is not None:
            what = f"a list of {span} items with distinct {self.unique_by}"
        elif self.unique:
            what = f"a list of {span} distinct items"
        else:
            what = f"a list of {span} items"
        return f"{what}, each {self.item.expected()}"

    def example_value(self, index: int = 0) -> Any:
        return [self.item.example_value(index + i) for i in range(max(self.min_items, 1))]

    def max_encoded_size(self, limits: Limits) -> int:
        n = min(self.max_items, limits.max_container_len)
        return _container_header(n) + n * self.item.max_encoded_size(limits)

    def depth(self) -> int:
        return 1 + self.item.depth()

    def personal_paths(self, prefix: str) -> list[str]:
        return self.item.personal_paths(prefix + "[]")


@dataclass(frozen=True)
class Field:
    """One key of a map: its name, type, whether required, whether it may hold
    personal data (names, document numbers, contact details, free text)."""

    name: str
    type: FieldType
    required: bool = True
    personal: bool = False
    doc: str = ""

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name) or len(self.name) > 64:
            raise UsageError(f"field name {self.name!r} must be a snake_case identifier")


@dataclass(frozen=True)
class Struct(FieldType):
    """A map with a fixed set of fields; unknown keys are refused."""

    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        names = [f.name for f in fields]
        if not fields or len(set(names)) != len(names):
            raise UsageError("a struct needs at least one field and distinct field names")

    def names(self) -> tuple[str, ...]:
        """The field names, in declaration order."""
        return tuple(f.name for f in self.fields)

    def validate(self, value: object, path: str, ctx: _Ctx) -> Any:
        if not isinstance(value, Mapping):
            raise _fail(path, _got(value), self.hint())
        known = self.names()
        for key in value:
            if not isinstance(key, str):
                raise _fail(path, f"field names must be strings, {_got(key)}")
        unknown = sorted(k for k in value if k not in known)
        if unknown:
            # The key is in the path already (quoted when it is not an identifier).
            key = unknown[0]
            meant = _near_miss(key, known) if len(key) <= 64 and key.isprintable() else None
            hint = f"did you mean {meant}?" if meant else "allowed fields: " + ", ".join(known)
            raise _fail(_key_path(path, unknown[0]), "unknown field", hint)
        for f in self.fields:
            if f.required and f.name not in value:
                raise _fail(f"{path}.{f.name}", "required field is missing", f.type.hint())
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in value:
                continue
            item = value[f.name]
            where = f"{path}.{f.name}"
            if item is None:
                problem = "nil is not allowed" + ("" if f.required else " (leave the field out)")
                raise _fail(where, problem, f.type.hint())
            sub = ctx if ctx.quiet or not f.personal else _Ctx(ctx.limits, quiet=True)
            out[f.name] = f.type.validate(item, where, sub)
        return out

    def describe(self) -> str:
        return "map: " + ", ".join(f.name + ("" if f.required else "?") for f in self.fields)

    def expected(self) -> str:
        names = ", ".join(f.name + ("" if f.required else "?") for f in self.fields)
        optional = "" if all(f.required for f in self.fields) else " (? marks optional ones)"
        return f"a map with fields {names}{optional}"

    def example_value(self, index: int = 0) -> Any:
        # The required fields show the form; a struct of optional ones needs one of them.
        chosen = [f for f in self.fields if f.required] or [self.fields[0]]
        return {f.name: f.type.example_value(index) for f in chosen}

    def max_encoded_size(self, limits: Limits) -> int:
        return _container_header(len(self.fields)) + sum(
            _str_header(len(f.name)) + len(f.name) + f.type.max_encoded_size(limits)
            for f in self.fields
        )

    def depth(self) -> int:
        return 1 + max(f.type.depth() for f in self.fields)

    def personal_paths(self, prefix: str) -> list[str]:
        out: list[str] = []
        for f in self.fields:
            path = f"{prefix}.{f.name}" if prefix else f.name
            if f.personal:
                out.append(path)
            out.extend(f.type.personal_paths(path))
        return out


def validate_value(
    field_type: FieldType,
    value: object,
    path: str,
    *,
    personal: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Any:
    """Validate one value against ``field_type`` alone, as :meth:`KindSpec.validate`
    would at ``path``; return it normalised or raise :class:`ContentError`.

    For input taken one field at a time (a prompt, a command-line setting), so that
    the person typing learns of a problem with the same message, before the whole
    content exists. ``personal``: the value is that of a field marked personal (or
    lies beneath one), so the message must not show it. Cross-field checks are the
    kind's and run only on whole content.
    """
    return field_type.validate(value, path, _Ctx(limits, quiet=personal))


def in_order(first: str, second: str) -> Check:
    """A check that date (or other ordered) field ``second`` is not before ``first``.

    Skipped when either is absent, so it also serves optional end dates.
    """

    def check(content: Mapping[str, Any], path: str) -> None:
        if first in content and second in content and content[second] < content[first]:
            raise ContentError(
                f"{path}.{second}: {content[second]} is before {first} {content[first]}; "
                f"expected {second} on or after {first}, e.g. {content[first]}"
            )

    return check


def all_of(*checks: Check) -> Check:
    """Run several checks in order; the first failure is reported."""

    def check(content: Mapping[str, Any], path: str) -> None:
        for c in checks:
            c(content, path)

    return check


@dataclass(frozen=True)
class KindSpec:
    """The schema of one message kind: its fields and cross-field ``check``."""

    name: str
    fields: tuple[Field, ...]
    doc: str
    check: Check | None = None
    _struct: Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _IDENTIFIER.fullmatch(self.name) or len(self.name) > 64:
            raise UsageError(f"kind name {self.name!r} must be a snake_case identifier")
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "_struct", Struct(self.fields))
        # Statically refuse a kind whose valid content a default decoder could
        # refuse: the schema, not the wire, should be the binding constraint.
        depth = self._struct.depth()
        if depth > DEFAULT_LIMITS.max_depth:
            raise UsageError(f"kind {self.name} nests {depth} deep, over the decoder's cap")
        size = self.max_encoded_size()
        if size > DEFAULT_LIMITS.max_content_bytes:
            raise UsageError(
                f"kind {self.name} can encode to {size} bytes, over the content cap "
                f"{DEFAULT_LIMITS.max_content_bytes}; tighten its bounds"
            )

    def validate(self, value: object, *, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
        """Validate decoded content; return it normalised to plain ``dict``/``list``.

        Raises :class:`ContentError` naming the path of the first problem.
        """
        out: dict[str, Any] = self._struct.validate(value, self.name, _Ctx(limits, quiet=False))
        if self.check is not None:
            self.check(out, self.name)
        return out

    def personal_paths(self) -> list[str]:
        """Dotted paths of fields marked personal; list items appear as ``field[]``."""
        return self._struct.personal_paths("")

    def field_names(self) -> tuple[str, ...]:
        """Top-level field names, in declaration order."""
        return self._struct.names()

    def max_encoded_size(self, limits: Limits = DEFAULT_LIMITS) -> int:
        """Upper bound on the canonical msgpack size of any valid content."""
        return self._struct.max_encoded_size(limits)

    def reference(self) -> str:
        """A Markdown section documenting this kind, for docs/protocol.md."""
        lines = [
            f"### `{self.name}`",
            "",
            self.doc,
            "",
            "| field | type | notes |",
            "|---|---|---|",
        ]

        def walk(fields: Iterable[Field], prefix: str) -> None:
            for f in fields:
                path = f"{prefix}{f.name}"
                notes = [] if f.required else ["optional"]
                if f.personal:
                    notes.append("personal")
                if f.doc:
                    notes.append(f.doc)
                lines.append(f"| `{path}` | {f.type.describe()} | {'; '.join(notes)} |")
                inner: FieldType = f.type
                suffix = ""
                while isinstance(inner, List):
                    inner, suffix = inner.item, suffix + "[]"
                if isinstance(inner, Struct):
                    walk(inner.fields, f"{path}{suffix}.")

        walk(self.fields, "")
        return "\n".join(lines) + "\n"
