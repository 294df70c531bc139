"""Full-text and field search over the content this node can read (SQLite FTS5).

What is indexed: the content of every envelope this node decrypted, when it is
stored (:meth:`~ilo_node.node.ingest.Ingestor.ingest`), one row of ``search_docs``
per envelope, keyed by its log index, with two columns of text built from the
validated content by walking the kind's schema:

``body``    every value as words: strings and free text, enum values
            (``residence_permit`` reads as "residence permit"), dates
            (2026-03-01 as "2026 03 01", so ``2026-03`` finds March 2026),
            half-years, numbers, and country codes followed by the country's
            English names (``NG Nigeria``; :data:`protocol.countries.COUNTRY_NAMES`).
            Booleans and byte strings (envelope ids) are left out: they are not
            words anyone searches the text for.
``fields``  the same words, each glued to the dotted path of its field
            (``contact.email``; a list's items under the list's name) and to every
            enclosing path (``contact``), plus booleans as ``true``/``false`` and
            byte strings in hex: what ``field:value`` queries match.

Between two values each column holds a boundary token, so that a phrase never
runs from one value into the next. The glue and the boundary are private-use
characters, which FTS5's ``unicode61`` tokenizer keeps inside tokens; they are
removed from content and queries alike, so nobody can type or send them.

The query language (:func:`parse_query`), kept small:

* ``word``: a term; every term must match (AND), case and accents ignored
  (``turkiye`` finds Türkiye), in any field;
* ``"a phrase"``: these words next to each other, within one value; a quote
  left open runs to the end of the query;
* ``field:word`` or ``field:"a phrase"``: within that field, named as in the
  content schemas (docs/protocol.md), dotted for nested fields
  (``contact.email:example``); a list field matches any of its items, a
  structure any value inside it (``nationalities:AF``);
* ``word*``: any word that starts so (``smuggl*`` finds smuggling, smugglers),
  three letters or more before the star, in any field;
* nothing else is an operator: ``AND``, ``OR``, ``NOT``, ``NEAR``, ``*`` elsewhere, ``^``,
  parentheses and other punctuation are searched for as the words they contain
  (punctuation contains none). A field that no kind has is refused, so is a
  query with no word at all, longer than :data:`MAX_QUERY_CHARS` or with more
  than :data:`MAX_TERMS` terms: always with an :class:`~ilo_node.errors.InputError`.

Filters are parameters, never part of the query: kinds, author nodes, their
parties or hosts, and a time range, all read from the ``envelopes`` columns
(:class:`SearchFilters`). Results are envelope ids, newest first by the
envelope's signed ``created_ms`` (then by log index): officers look for recent
reports, and a rank by word frequency says little about records this short.
The index only chooses ids; what is shown is read from the signed envelope as
every read is (:meth:`~ilo_node.node.queries.LogView.read`).

Personal data: the index holds the same values as ``contents``, personal fields
included (officers search for names and document numbers), so it is kept with
them and erased with them: retention removes an envelope's row in the same
transaction as its content, then :meth:`SearchIndex.scrub` rewrites the FTS5
index without it (see there for what that costs and what is left).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ilo_node.errors import InputError, StoreError
from protocol.countries import COUNTRY_NAMES, ISO_3166_ALPHA2
from protocol.envelope import Envelope
from protocol.errors import ProtocolError, UsageError
from protocol.identifiers import HEADQUARTERS, is_node_id, is_officer_name, is_party
from protocol.kinds import KINDS, PARTY_AGENCY, PARTY_COMMISSION, kind_spec
from protocol.schema import (
    Bool,
    Bytes,
    Country,
    EnvelopeId,
    FieldType,
    List,
    PublicKey,
    Struct,
    safe_repr,
)

from .state import NodeState
from .store import transaction

__all__ = [
    "FIELD_PATHS",
    "MAX_FILTER_VALUES",
    "MAX_QUERY_CHARS",
    "MAX_RESULTS",
    "MAX_TERMS",
    "SearchFilters",
    "SearchIndex",
    "Term",
    "parse_query",
]

MAX_QUERY_CHARS = 1_000
"""Longest query accepted, in characters."""
MAX_TERMS = 32
"""Most terms (words, phrases, field terms) in one query."""
MAX_RESULTS = 1_000
"""Largest ``limit`` of one search."""
MAX_FILTER_VALUES = 1_000
"""Most values one filter (kinds, nodes, parties, hosts) may list: each is an SQL
parameter, and SQLite has a limit on those."""

_QUERY_ADVICE = (
    'Search with words, "quoted phrases" and field:value terms (field names as in the '
    "content schemas of docs/protocol.md, dotted for nested fields); quote a word that "
    'contains ":" to search for it as text.'
)

# Private-use characters (Unicode category Co), which unicode61 counts as parts of
# tokens: glue between a field path and a word, and the boundary between values.
_BOUNDARY = "\ue000"
_DOT = "\ue001"
_UNDERSCORE = "\ue002"
_GLUE = "\ue003"
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
# What a query may not carry into SQLite: control characters, lone surrogates (which
# do not encode as UTF-8), the line separators, and the private-use glue above.
_UNSAFE_IN_QUERY = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\ue000-\uf8ff"
    "\U000f0000-\U000ffffd\U00100000-\U0010fffd]"
)
# A word, as glued into the fields column: letters and digits of any script. The
# index and the query cut words with this same expression, so they agree with each
# other even where unicode61 (Unicode 6.1) would cut differently.
_WORD = re.compile(r"[^\W_]+")
# A word of three letters or more and a star: a prefix (shorter ones would match
# a large part of the vocabulary, and say little).
_PREFIX_WORD = re.compile(r"([^\W_]{3,})\*")
_TERM = re.compile(
    r"(?P<field>[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*):"
    r'(?:"(?P<field_phrase>[^"]*)"?|(?P<field_word>[^\s"]*))'
    r'|"(?P<phrase>[^"]*)"?'
    r'|(?P<word>[^\s"]+)'
)

#: Names of the two party codes that are not countries (meeting participants).
_PARTY_NAMES: Mapping[str, tuple[str, ...]] = {
    PARTY_COMMISSION: ("European Commission",),
    PARTY_AGENCY: ("European Border and Coast Guard Agency", "Frontex"),
}


# --- what is indexed ----------------------------------------------------------


# A walker adds one value's words to the two columns: (value, body, glued).
_Walker = Callable[[Any, list[str], list[str]], None]


def _prefix(path: str) -> str:
    """The glue in front of each word of a value under ``path``."""
    return path.replace("_", _UNDERSCORE).replace(".", _DOT) + _GLUE


def _enclosing(path: str) -> list[str]:
    """``a.b.c`` -> ``[a.b.c, a.b, a]``: a value is found under each of them."""
    parts = path.split(".")
    return [".".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _country_text(value: object) -> str | None:
    if type(value) is not str:
        return None
    return " ".join((value, *(COUNTRY_NAMES.get(value) or _PARTY_NAMES.get(value, ()))))


def _bool_text(value: object) -> str | None:
    return ("true" if value else "false") if type(value) is bool else None


def _scalar_text(value: object) -> str | None:
    if type(value) is str:
        return value
    if type(value) is int:
        return str(value)
    if type(value) is bytes:
        return value.hex()
    return None


def _walker(ftype: FieldType, path: str) -> _Walker:
    """What indexing a value of ``ftype`` at ``path`` does, decided once per kind from the
    schema. A value of another shape than its type (content that was not validated)
    is skipped rather than indexed as something it is not."""
    if isinstance(ftype, Struct):
        fields = [
            (f.name, _walker(f.type, f"{path}.{f.name}" if path else f.name)) for f in ftype.fields
        ]

        def struct(value: Any, body: list[str], glued: list[str]) -> None:
            if type(value) is dict:
                for name, walk in fields:
                    if name in value:
                        walk(value[name], body, glued)

        return struct
    if isinstance(ftype, List):
        walk_item = _walker(ftype.item, path)

        def items(value: Any, body: list[str], glued: list[str]) -> None:
            if type(value) is list:
                for item in value:
                    walk_item(item, body, glued)

        return items
    prefixes = tuple(_prefix(p) for p in _enclosing(path))
    to_text = (
        _country_text
        if isinstance(ftype, Country)
        else _bool_text
        if isinstance(ftype, Bool)
        else _scalar_text
    )
    # Booleans and byte strings are not words of the text, only of field queries.
    in_body = not isinstance(ftype, Bool | EnvelopeId | PublicKey | Bytes)

    def leaf(value: Any, body: list[str], glued: list[str]) -> None:
        text = to_text(value)
        if text is None:
            return
        if in_body:
            # An ASCII text holds no private-use character: the common case skips the scan.
            body.append(text if text.isascii() else _PRIVATE_USE.sub(" ", text))
        # _WORD matches no private-use character: the glued words need no cleaning.
        words = _WORD.findall(text)
        if words:
            for prefix in prefixes:
                glued.append(" ".join([prefix + word for word in words]))

    return leaf


@functools.cache
def _kind_walker(kind: str) -> _Walker:
    return _walker(Struct(kind_spec(kind).fields), "")


def searchable_text(kind: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """The ``body`` and ``fields`` columns for validated content of ``kind``."""
    if kind not in KINDS:
        raise UsageError(f"cannot index content of unknown kind {safe_repr(kind)}")
    body: list[str] = []
    glued: list[str] = []
    _kind_walker(kind)(dict(fields) if type(fields) is not dict else fields, body, glued)
    separator = f" {_BOUNDARY} "
    return separator.join(body), separator.join(glued)


def _paths(fields: Iterable[Any], prefix: str = "") -> Iterator[str]:
    for f in fields:
        path = f"{prefix}{f.name}"
        yield path
        inner: FieldType = f.type
        while isinstance(inner, List):
            inner = inner.item
        if isinstance(inner, Struct):
            yield from _paths(inner.fields, path + ".")


#: Every field path some kind has: what a ``field:`` term may name.
FIELD_PATHS: frozenset[str] = frozenset(p for spec in KINDS.values() for p in _paths(spec.fields))


# --- the query language -------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One term of a query: words that must appear next to each other, in ``field``
    (a dotted path) or, when it is ``None``, in any field."""

    text: str
    field: str | None = None
    #: Any word that starts with ``text`` (one word, in any field).
    prefix: bool = False

    def fts(self) -> str:
        """This term as an FTS5 query: a phrase, restricted to one column."""
        if self.field is None:
            # An FTS5 string: only '"' is special inside it, and doubled it is literal.
            return 'body : "' + self.text.replace('"', '""') + '"' + (" *" if self.prefix else "")
        # The same glue and words as the index (_walker); no '"' can be among them.
        prefix = _prefix(self.field)
        return 'fields : "' + " ".join(prefix + word for word in _WORD.findall(self.text)) + '"'


def parse_query(query: object) -> list[Term]:
    """The terms of a search query (module docstring); :class:`InputError` if it has
    none, is too long, or names a field no kind has. Never echoes the query's values,
    which may be personal data: only field names are quoted."""
    if not isinstance(query, str):
        raise InputError("a search query is text", _QUERY_ADVICE)
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(
            f"the search query is too long ({len(query)} characters, at most {MAX_QUERY_CHARS})",
            _QUERY_ADVICE,
        )
    terms: list[Term] = []
    for match in _TERM.finditer(_UNSAFE_IN_QUERY.sub(" ", query)):
        field = match["field"]
        if field is not None:
            name = field.lower()
            if name not in FIELD_PATHS:
                raise InputError(
                    f"the search query names the field {safe_repr(name)}, which no message "
                    "kind has",
                    _QUERY_ADVICE,
                )
            phrase = match["field_phrase"]
            value = phrase if phrase is not None else match["field_word"]
            if not _WORD.search(value):
                raise InputError(
                    f"the search term {name}: has no word to look for in that field",
                    _QUERY_ADVICE,
                )
            terms.append(Term(value, name))
            continue
        text = match["phrase"] if match["phrase"] is not None else match["word"]
        stem = _PREFIX_WORD.fullmatch(match["word"] or "")
        if stem is not None:
            terms.append(Term(stem[1], prefix=True))
            continue
        # Punctuation alone ('*', '--') has no word to match: leave it out rather than
        # let it match nothing and empty the whole result.
        if text and _WORD.search(text):
            terms.append(Term(text))
    if not terms:
        raise InputError("the search query has no word to look for", _QUERY_ADVICE)
    if len(terms) > MAX_TERMS:
        raise InputError(
            f"the search query has {len(terms)} terms, at most {MAX_TERMS}", _QUERY_ADVICE
        )
    return terms


# --- filters --------------------------------------------------------------------

_MAX_MS = 2**63 - 1


def _codes(values: object, what: str, valid: Callable[[str], bool]) -> tuple[str, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InputError(f"{what} is a list of strings, not {type(values).__name__}")
    out = tuple(values)
    if len(out) > MAX_FILTER_VALUES:
        raise InputError(f"{what} has {len(out)} values, at most {MAX_FILTER_VALUES}")
    for value in out:
        if not isinstance(value, str) or not valid(value):
            shown = safe_repr(value) if isinstance(value, str) else type(value).__name__
            raise InputError(f"{what}: {shown} is not valid there")
    return out


def _time(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_MS:
        raise InputError(f"{what} must be milliseconds since 1970, from 0 to 2^63-1")
    return value


def _host(code: str) -> bool:
    return code == HEADQUARTERS or code in ISO_3166_ALPHA2


@dataclass(frozen=True)
class SearchFilters:
    """What the ``envelopes`` columns of a result must hold; an empty filter holds
    anything. Kinds, nodes, parties and hosts are each "any of"; the time range is
    ``since_ms <= created_ms < until_ms``.

    A filter on another ``envelopes`` column is one more field here, checked in
    :meth:`of`, and one more clause in :meth:`clauses`, then a parameter of
    :meth:`SearchIndex.search`.
    """

    kinds: tuple[str, ...] = ()
    author_nodes: tuple[str, ...] = ()
    parties: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    #: Authors' officer names (``author_officer``, from the signed header).
    officers: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        kinds: object = (),
        author_nodes: object = (),
        parties: object = (),
        hosts: object = (),
        since_ms: object = None,
        until_ms: object = None,
        officers: object = (),
    ) -> SearchFilters:
        """Filters from a caller's values, each checked: :class:`InputError` if not."""
        return cls(
            kinds=_codes(kinds, "kinds", lambda k: k in KINDS),
            author_nodes=_codes(author_nodes, "author_nodes", is_node_id),
            parties=_codes(parties, "parties", is_party),
            hosts=_codes(hosts, "hosts", _host),
            since_ms=_time(since_ms, "since_ms"),
            until_ms=_time(until_ms, "until_ms"),
            officers=_codes(officers, "officers", is_officer_name),
        )

    def clauses(self) -> list[tuple[str, list[Any]]]:
        """SQL conditions on ``envelopes e``, each with its arguments."""
        out: list[tuple[str, list[Any]]] = []

        def any_of(column: str, values: tuple[str, ...]) -> None:
            if values:
                out.append((f"{column} IN ({', '.join('?' * len(values))})", list(values)))

        any_of("e.kind", self.kinds)
        any_of("e.author_node", self.author_nodes)
        # A node id is PARTY@HOST, checked at ingest: split it, never pattern-match it.
        any_of("substr(e.author_node, 1, instr(e.author_node, '@') - 1)", self.parties)
        any_of("substr(e.author_node, instr(e.author_node, '@') + 1)", self.hosts)
        any_of("e.author_officer", self.officers)
        if self.since_ms is not None:
            out.append(("e.created_ms >= ?", [self.since_ms]))
        if self.until_ms is not None:
            out.append(("e.created_ms < ?", [self.until_ms]))
        return out


# --- the index ------------------------------------------------------------------


class SearchIndex:
    """The node's search part (``node.search``): kept by ingest and retention, read by
    :meth:`search`. Every method runs on the thread that owns the node; ``index``,
    ``remove`` and ``scrub`` inside the caller's transaction."""

    #: FTS5's own secure-delete option (SQLite 3.42 and later) removes an entry from
    #: the index's pages when it is deleted, so nothing needs rewriting afterwards.
    SECURE_DELETE_AVAILABLE = sqlite3.sqlite_version_info >= (3, 42, 0)

    def __init__(self, state: NodeState) -> None:
        self.s = state
        self._removed = False
        self._secure_delete = False

    def start(self) -> int | None:
        """At a writer's start: turn FTS5's secure-delete on where SQLite has it, and
        index what the migration to the schema with the index left unindexed (once).
        Returns how many contents that indexed, or None if none was due."""
        if self.SECURE_DELETE_AVAILABLE:
            # A setting of the index itself (kept in search_docs_fts_config): on from
            # before the first removal, and idempotent. A database that had entries
            # removed before it was on had them merged away by scrub() each time.
            with transaction(self.s.db):
                self.s.db.execute(
                    "INSERT INTO search_docs_fts (search_docs_fts, rank) "
                    "VALUES ('secure-delete', 1)"
                )
            self._secure_delete = True
        row = self.s.db.execute("SELECT 1 FROM meta WHERE key = 'search_rebuild'").fetchone()
        return self.rebuild() if row else None

    # -- keeping it ----------------------------------------------------------------

    def index(self, envelope_id: bytes, kind: str, fields: Mapping[str, Any]) -> None:
        """Index validated content (``Content.fields``) of a logged envelope. Key shares
        are not content people search, and what they hold is a key: never indexed."""
        if kind == "key_share":
            return
        row = self.s.db.execute("SELECT idx FROM envelopes WHERE id = ?", [envelope_id]).fetchone()
        if row is None:
            raise UsageError("only the content of an envelope in the log can be indexed")
        body, glued = searchable_text(kind, fields)
        # Delete, then insert: the FTS triggers see both (store.py, _FullText).
        self.s.db.execute("DELETE FROM search_docs WHERE envelope_id = ?", [envelope_id])
        self.s.db.execute(
            "INSERT INTO search_docs (idx, envelope_id, kind, body, fields) VALUES (?, ?, ?, ?, ?)",
            [row[0], envelope_id, kind, body, glued],
        )

    def remove(self, envelope_id: bytes) -> bool:
        """Take an envelope out of the index; True if it was there. Its words stay in
        the FTS5 index's pages until :meth:`scrub`."""
        cursor = self.s.db.execute("DELETE FROM search_docs WHERE envelope_id = ?", [envelope_id])
        removed = bool(cursor.rowcount)
        self._removed = self._removed or removed
        return removed

    def scrub(self) -> None:
        """Leave no trace of what :meth:`remove` took out, in the caller's transaction.

        FTS5 deletes an entry by writing a delete marker into a new segment: the
        words of the removed text stay, in order, in the older segments
        (``search_docs_fts_data``, and the first word of each page in
        ``search_docs_fts_idx``) until a merge drops them. With SQLite 3.42 or later
        the secure-delete option (turned on by :meth:`start`) removes them at once;
        before it, this merges every segment into one ('optimize'), which rewrites
        the whole index (a cost in proportion to its size, paid once per retention
        run, not per message). The node's ``PRAGMA secure_delete=ON`` then zeroes
        the rows and pages the old segments leave free. What remains is what SQLite
        keeps of any erased row: the earlier page images in the WAL file until a
        checkpoint writes over them, and whatever the file system and the disk keep
        of overwritten blocks.
        """
        if self._removed and not self._secure_delete:
            self.s.db.execute("INSERT INTO search_docs_fts (search_docs_fts) VALUES ('optimize')")
        self._removed = False

    def rebuild(self) -> int:
        """Index every readable content again, in one transaction; returns how many.

        Each content is opened from the signed envelope with its stored key, as
        :meth:`~ilo_node.node.queries.LogView.read` does, so a changed ``contents``
        row cannot put words into the index that its author did not sign; one that
        does not open is left out (``log verify`` names it).
        """
        db, limits = self.s.db, self.s.limits
        count = 0
        with transaction(db):
            self._removed = self._removed or bool(db.execute("DELETE FROM search_docs").rowcount)
            last = -1
            while True:
                rows = db.execute(
                    "SELECT e.idx, e.raw, c.content_key FROM contents c "
                    "JOIN envelopes e ON e.id = c.envelope_id "
                    "WHERE e.idx > ? ORDER BY e.idx LIMIT 500",
                    [last],
                ).fetchall()
                if not rows:
                    break
                for idx, raw, content_key in rows:
                    last = int(idx)
                    try:
                        envelope = Envelope.from_bytes(bytes(raw), limits)
                        content = envelope.open_with_key(bytes(content_key), limits)
                    except (ProtocolError, TypeError):
                        continue
                    self.index(envelope.id, content.kind, content.fields)
                    count += 1
            self.scrub()
            db.execute("DELETE FROM meta WHERE key = 'search_rebuild'")
        return count

    # -- reading it ----------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        kinds: Iterable[str] = (),
        author_nodes: Iterable[str] = (),
        parties: Iterable[str] = (),
        hosts: Iterable[str] = (),
        since_ms: int | None = None,
        until_ms: int | None = None,
        officers: Iterable[str] = (),
        limit: int = 50,
    ) -> list[bytes]:
        """Ids of the envelopes whose content matches ``query`` (module docstring) and
        whose ``envelopes`` columns pass the filters, newest first by ``created_ms``.

        Any bad argument is an :class:`InputError`, whatever the text of the query.
        """
        try:
            terms = parse_query(query)
            filters = SearchFilters.of(
                kinds, author_nodes, parties, hosts, since_ms, until_ms, officers
            )
            if isinstance(limit, bool) or not isinstance(limit, int):
                raise InputError("limit must be an integer")
            if not 1 <= limit <= MAX_RESULTS:
                raise InputError(f"limit must be from 1 to {MAX_RESULTS}")
        except InputError:
            self.s.counters.add("search", "refused")
            raise
        return self._run(terms, filters, limit)

    def _run(self, terms: Iterable[Term], filters: SearchFilters, limit: int) -> list[bytes]:
        """Search with terms and filters already checked (:meth:`search` checks them)."""
        where = ["search_docs_fts MATCH ?"]
        args: list[Any] = [" AND ".join(term.fts() for term in terms)]
        for clause, values in filters.clauses():
            where.append(clause)
            args.extend(values)
        args.append(limit)
        # Written out rather than through sqlite-utils' Table.search: its WHERE and
        # ORDER BY see the indexed table alone, and both the order (the signed
        # created_ms) and the filters are the envelopes' columns, one join away. Only
        # fixed SQL is formatted in (the clauses of SearchFilters); every value is bound.
        # CROSS JOIN keeps the full-text match as the outer loop: left to choose, the
        # planner starts from an envelopes index when there are filters and then asks
        # FTS5 to match each row on its own, some fifty times slower (bench/search.py);
        # the match first costs in proportion to the rows it matches.
        sql = (
            "SELECT e.id FROM search_docs_fts CROSS JOIN envelopes e "  # noqa: S608
            "ON e.idx = search_docs_fts.rowid "
            f"WHERE {' AND '.join(where)} ORDER BY e.created_ms DESC, e.idx DESC LIMIT ?"
        )
        try:
            rows = self.s.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            # Not the query's fault (every term reaches FTS5 quoted): say what failed
            # without SQLite's text, which may quote the query.
            raise StoreError(f"the search index could not be read ({type(exc).__name__})") from None
        self.s.counters.add("search", "queries")
        return [bytes(row[0]) for row in rows]
