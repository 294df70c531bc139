"""Search over readable content: what is found, the filters, erasure by retention, the
migration that adds the index, and queries of any text."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ilo_node.dev.netbuilder import BuiltNetwork, build_network
from ilo_node.errors import InputError, StoreError
from ilo_node.home.home import Home, now_ms
from ilo_node.node import store
from ilo_node.node.core import Node
from ilo_node.node.search import MAX_FILTER_VALUES, MAX_QUERY_CHARS, MAX_TERMS, parse_query
from protocol.examples import example

PASS = b"test passphrase"
NODES = ["COM@EU", "DE@TR", "FR@TR", "IT@TR", "NL@MA"]
READER = "FR@TR"
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> BuiltNetwork:
    return build_network(tmp_path_factory.mktemp("net") / "net", NODES, passphrase=PASS)


def _fresh_home(network: BuiltNetwork, node: str, base: Path) -> Home:
    """A copy of a node home with an empty database, so each test starts clean."""
    target = base / node
    shutil.copytree(network.nodes[node].path, target, ignore=shutil.ignore_patterns("node.db*"))
    return Home(target)


class Clock:
    """A node clock that moves a second per reading: every envelope has its own time."""

    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        self.now += 1_000
        return self.now


def _open(home: Home, clock: Callable[[], int] | None = None) -> Node:
    return Node(home, PASS, clock=clock or now_ms)


def _content(kind: str, **changes: Any) -> dict[str, Any]:
    content = example(kind)
    content.update(changes)
    return content


# What the shared reader holds: (name, author, distribution, kind, content).
CORPUS: list[tuple[str, str, str, str, dict[str, Any]]] = [
    (
        "passport",
        "DE@TR",
        "local",
        "forged_document_alert",
        _content(
            "forged_document_alert",
            document_type="passport",
            issuing_country="NG",
            fraud_type="forged",
            route="Lagos - Istanbul - Athens",
            holder_nationality="SY",
            holder_name="Amaka Testperson",
            detection_features=["Photo page relaminated", "Wrong font in the data page"],
        ),
    ),
    ("permit", "DE@TR", "local", "forged_document_alert", example("forged_document_alert")),
    ("incident", "IT@TR", "local", "incident_alert", example("incident_alert")),
    ("deployment", "DE@TR", "local", "deployment_notice", example("deployment_notice")),
    ("flow", "NL@MA", "network", "flow_report", example("flow_report")),
    ("route", "COM@EU", "network", "route_report", example("route_report")),
    ("meeting", "IT@TR", "local", "meeting_record", example("meeting_record")),
]


@dataclass
class Corpus:
    reader: Node
    ids: dict[str, bytes]
    created: dict[str, int]

    def find(self, query: str, **filters: Any) -> list[str]:
        names = {v: k for k, v in self.ids.items()}
        return [names[i] for i in self.reader.search.search(query, **filters)]

    def found(self, query: str, **filters: Any) -> set[str]:
        return set(self.find(query, **filters))


@pytest.fixture(scope="module")
def corpus(network: BuiltNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    base = tmp_path_factory.mktemp("corpus")
    clock = Clock(now_ms() - 3_600_000)
    authors: dict[str, Node] = {}
    raws: list[bytes] = []
    ids: dict[str, bytes] = {}
    created: dict[str, int] = {}
    try:
        for name, author, distribution, kind, content in CORPUS:
            if author not in authors:
                authors[author] = _open(_fresh_home(network, author, base), clock)
            envelope, _ = authors[author].publish(kind, content, distribution=distribution)
            raws.append(envelope.to_bytes())
            ids[name] = envelope.id
            created[name] = envelope.header.created_ms
    finally:
        for node in authors.values():
            node.close()
    reader = _open(_fresh_home(network, READER, base))
    # Newest first, so that most wait in the quarantine and are indexed when placed
    # from it, and the log order is not the order of their times.
    reader.ingest(raws[::-1])
    assert reader.size() == len(raws)
    yield Corpus(reader, ids, created)
    reader.close()


# -- what is found ----------------------------------------------------------------


def test_words_are_found_in_any_field_and_all_must_match(corpus: Corpus) -> None:
    assert corpus.find("counterfeit") == ["permit"]
    assert corpus.found("istanbul") == {"passport", "permit", "route", "flow"}
    assert corpus.find("istanbul bologna") == ["permit"]
    assert corpus.find("bologna lagos") == []
    # Case and accents do not matter.
    assert corpus.found("ISTANBUL") == corpus.found("istanbul")
    assert corpus.found("Bundespolizei") == {"deployment"}


def test_enum_values_dates_and_numbers_are_words(corpus: Corpus) -> None:
    assert corpus.found("residence permit") >= {"permit"}
    assert corpus.find("residence_permit") == ["permit"]
    assert corpus.find("2026-04-10") == ["incident"]
    # A date's leading parts match every date of that month.
    assert corpus.found("2026-04") == {"incident"}
    assert corpus.find("1240") == ["flow"]


def test_phrases_match_adjacent_words_within_one_value(corpus: Corpus) -> None:
    assert corpus.find('"optically variable ink"') == ["permit"]
    assert corpus.find('"ink variable optically"') == []
    # detection_features is ["...on the card number", "Laser-engraved..."]: the words
    # are there, but no value has them next to each other.
    assert corpus.find("card number laser") == ["permit"]
    assert corpus.find('"card number laser"') == []
    # A quote left open runs to the end.
    assert corpus.find('istanbul "optically variable') == ["permit"]


def test_country_codes_are_found_by_their_english_names(corpus: Corpus) -> None:
    assert corpus.find("Nigeria") == ["passport"]
    assert corpus.find("NG") == ["passport"]
    assert corpus.found("Pakistan") == {"permit", "route"}
    turkey = corpus.found("Türkiye")
    assert "incident" in turkey
    assert corpus.found("turkiye") == corpus.found("Turkey") == turkey
    # The two parties that are not countries have names too.
    assert corpus.find("Frontex") == ["meeting"]
    assert corpus.find('"European Commission"') == ["meeting"]


def test_field_queries_look_in_that_field_only(corpus: Corpus) -> None:
    assert corpus.find("document_type:passport") == ["passport"]
    assert corpus.find("document_type:residence_permit") == ["permit"]
    assert corpus.find('document_type:"residence permit"') == ["permit"]
    assert corpus.find("Document_Type:PASSPORT") == ["passport"]
    assert corpus.find("issuing_country:Nigeria") == ["passport"]
    assert corpus.find("issuing_country:NG") == ["passport"]
    # NG is in the alert, but not as the holder's nationality.
    assert corpus.find("holder_nationality:NG") == []
    assert corpus.find("holder_nationality:Syria") == ["passport"]
    assert corpus.find("route:lagos") == ["passport"]
    assert corpus.found("route:istanbul") == {"passport", "permit"}
    assert corpus.find("istanbul document_type:passport") == ["passport"]


def test_field_queries_on_nested_fields_and_lists(corpus: Corpus) -> None:
    assert corpus.find("contact.email:example") == ["deployment"]
    assert corpus.find("contact:example") == ["deployment"]
    assert corpus.find("contact.email:bundespolizei") == []
    # A list field matches any item, a list of structures any value inside them.
    assert corpus.found("nationalities:AF") == {"flow", "route"}
    assert corpus.find("nationalities.nationality:Syria") == ["flow"]
    assert corpus.find("nationalities.count:860") == ["flow"]
    assert corpus.find("waypoints.place:Khoy") == ["route"]
    assert corpus.find("participants:Frontex") == ["meeting"]
    assert corpus.find("commission_present:true") == ["meeting"]
    assert corpus.find("commission_present:false") == []
    # Booleans are only for field queries: the word "true" is in no text.
    assert corpus.find("true") == []


# -- filters and order ---------------------------------------------------------------


def test_newest_first_by_created_time_and_limit(corpus: Corpus) -> None:
    everything = corpus.find("2026")
    assert set(everything) == set(corpus.ids)
    assert everything == sorted(corpus.ids, key=lambda n: corpus.created[n], reverse=True)
    assert corpus.find("2026", limit=2) == everything[:2]


def test_filters_on_the_envelopes_columns(corpus: Corpus) -> None:
    assert corpus.found("istanbul", kinds=["forged_document_alert"]) == {"passport", "permit"}
    assert corpus.found("istanbul", kinds=["route_report", "incident_alert"]) == {"route"}
    assert corpus.found("2026", author_nodes=["IT@TR"]) == {"incident", "meeting"}
    assert corpus.found("2026", parties=["NL"]) == {"flow"}
    assert corpus.found("2026", parties=["COM", "IT"]) == {"route", "incident", "meeting"}
    assert corpus.found("2026", hosts=["MA"]) == {"flow"}
    assert corpus.found("2026", hosts=["EU"]) == {"route"}
    since, until = corpus.created["incident"], corpus.created["flow"]
    assert corpus.found("2026", since_ms=since, until_ms=until) == {"incident", "deployment"}
    assert corpus.found("2026", since_ms=until) == {"flow", "route", "meeting"}
    assert corpus.find("2026", kinds=["forged_document_alert"], author_nodes=["IT@TR"]) == []


def test_searches_are_counted(corpus: Corpus) -> None:
    counters = corpus.reader.counters
    queries, refused = counters.get("search", "queries"), counters.get("search", "refused")
    corpus.find("istanbul")
    with pytest.raises(InputError):
        corpus.find("")
    assert counters.get("search", "queries") == queries + 1
    assert counters.get("search", "refused") == refused + 1


def test_a_word_with_a_star_finds_the_words_it_starts(corpus: Corpus) -> None:
    assert corpus.found("istanbul")  # the corpus has it
    assert corpus.found("istan*") == corpus.found("istanbul")
    assert corpus.found("ISTAN*") == corpus.found("istanbul")  # case ignored as for words
    assert corpus.found("istan*") != corpus.found("istan")  # without the star, a word
    # Two letters are too few to say anything: the star is then punctuation.
    assert corpus.find("is*") == corpus.find("is")


# -- any query is safe ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "literal"),
    [
        ("istanbul OR lagos", 'istanbul "or" lagos'),
        ("istanbul NOT bologna", 'istanbul "not" bologna'),
        ("istanbul AND bologna", 'istanbul "and" bologna'),
        ("NEAR(istanbul bologna)", '"near istanbul" bologna'),
        ("istanbul*", "istanbul"),
        ("^istanbul", "istanbul"),
        ("(istanbul)", "istanbul"),
        ("istanbul -bologna", "istanbul bologna"),
        ("{route}: istanbul", "route istanbul"),
        ("istanbul * -- +", "istanbul"),
        ('istanbul ""', "istanbul"),
        ("12:30 istanbul", '"12 30" istanbul'),
        ("istan\x00bul", "istan bul"),
        ("\ud800istanbul\x1b", "istanbul"),
        ("istanbul\ue003bologna", "istanbul bologna"),
    ],
)
def test_operators_and_odd_characters_are_searched_literally(
    corpus: Corpus, query: str, literal: str
) -> None:
    assert corpus.find(query) == corpus.find(literal)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        '""',
        "* ( ) --",
        "\x00\x01",
        "nosuchfield:istanbul",
        "http://example.org",
        "document_type:",
        "document_type:*",
        'document_type:""',
        "x" * (MAX_QUERY_CHARS + 1),
        " ".join(["w"] * (MAX_TERMS + 1)),
    ],
)
def test_queries_that_cannot_work_are_input_errors(corpus: Corpus, query: str) -> None:
    with pytest.raises(InputError):
        corpus.find(query)


@pytest.mark.parametrize(
    "filters",
    [
        {"kinds": "forged_document_alert"},
        {"kinds": ["no_such_kind"]},
        {"kinds": [1]},
        {"author_nodes": ["de@tr"]},
        {"parties": ["XX"]},
        {"hosts": ["ZZ"]},
        {"author_nodes": ["DE@TR"] * (MAX_FILTER_VALUES + 1)},
        {"since_ms": -1},
        {"until_ms": 2**64},
        {"since_ms": True},
        {"until_ms": "tomorrow"},
        {"limit": 0},
        {"limit": 10**6},
        {"limit": "5"},
    ],
)
def test_filters_that_cannot_work_are_input_errors(corpus: Corpus, filters: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        corpus.find("istanbul", **filters)


def test_a_refused_query_does_not_echo_its_values() -> None:
    with pytest.raises(InputError) as refused:
        parse_query('holdr_name:"Amaka Testperson"')
    assert "holdr_name" in refused.value.message
    assert "Amaka" not in refused.value.message + refused.value.advice
    with pytest.raises(InputError) as long:
        parse_query("Amaka " * 300)
    assert "Amaka" not in long.value.message


_PIECES = st.sampled_from(
    [
        "AND",
        "OR",
        "NOT",
        "NEAR(",
        "NEAR/3",
        "*",
        '"',
        "(",
        ")",
        ":",
        "^",
        "-",
        "+",
        "{body}",
        "body:",
        "fields:",
        "rowid",
        "document_type:",
        "contact.email:",
        "nationalities.",
        "x:",
        "istanbul",
        "Türkiye",
        "\x00",
        "\ud800",
        "\ue000",
        "\u2028",
        " ",
        "'",
        ";",
        "--",
        "%",
        "\\",
    ]
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=40).map("".join),
        st.text(min_size=MAX_QUERY_CHARS - 5, max_size=MAX_QUERY_CHARS + 5),
    )
)
def test_any_text_is_searched_or_refused_with_an_input_error(corpus: Corpus, query: str) -> None:
    try:
        found = corpus.reader.search.search(query)
    except InputError as exc:
        assert exc.message
        return
    assert all(isinstance(i, bytes) and i in corpus.ids.values() for i in found)


# -- retention -----------------------------------------------------------------------

UNIQUE = "zzquorbvexil"  # in no other content, so any trace of it is this message's


@pytest.fixture
def pair(network: BuiltNetwork, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    author = _open(_fresh_home(network, "DE@TR", tmp_path))
    reader = _open(_fresh_home(network, READER, tmp_path))
    yield author, reader
    author.close()
    reader.close()


def _traces(node: Node, needle: str) -> list[str]:
    """The tables of the search index (the FTS5 shadow tables too) holding ``needle``."""
    raw = needle.encode()
    names = [
        r[0]
        for r in node.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'search%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%'"
        ).fetchall()
    ]
    assert {"search_docs", "search_docs_fts_data", "search_docs_fts_idx"} <= set(names)
    found: list[str] = []
    for name in names:
        for row in node.db.execute(f"SELECT * FROM [{name}]").fetchall():
            cells = [c if isinstance(c, bytes) else str(c).encode() for c in row]
            if any(raw in cell for cell in cells):
                found.append(name)
                break
    return found


def test_content_erased_by_retention_leaves_the_index_in_the_same_transaction(
    pair: tuple[Node, Node],
) -> None:
    author, reader = pair
    alert = _content("forged_document_alert", notes=f"Holder used the alias {UNIQUE}.")
    erased, _ = author.publish("forged_document_alert", alert)
    kept, _ = author.publish("incident_alert", example("incident_alert"))
    assert [r.status for r in reader.ingest([erased.to_bytes(), kept.to_bytes()])] == [
        "accepted",
        "accepted",
    ]
    assert reader.search.search(UNIQUE) == [erased.id]
    # The control: before erasure the word is in the FTS index's own pages.
    assert "search_docs_fts_data" in _traces(reader, UNIQUE[2:])

    assert reader.apply_retention({"forged_document_alert": 30}, now_ms() + 31 * DAY_MS) == 1
    assert reader.view.read(erased.id) is None
    assert reader.search.search(UNIQUE) == []
    assert reader.search.search("notes:alias") == []
    assert reader.search.search("visa-free") == [kept.id]
    # No row of any index table holds the word, the FTS5 shadow tables included (the
    # segments that held it were merged away), and the index is sound.
    assert _traces(reader, UNIQUE[2:]) == []
    reader.db.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, search_docs_fts, row)")
    assert not reader.db.execute(
        "SELECT 1 FROM temp.words WHERE term LIKE ?", [f"%{UNIQUE}%"]
    ).fetchall()
    reader.db.execute("INSERT INTO search_docs_fts (search_docs_fts) VALUES ('integrity-check')")
    # secure_delete zeroed what the merge freed: the file no longer holds the word.
    reader.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert UNIQUE[2:].encode() not in (reader.home.path / "node.db").read_bytes()


def test_an_erased_message_that_arrives_again_is_not_indexed_again(
    pair: tuple[Node, Node],
) -> None:
    author, reader = pair
    envelope, _ = author.publish("incident_alert", example("incident_alert"))
    reader.ingest([envelope.to_bytes()])
    reader.apply_retention({"default": 1}, now_ms() + 2 * DAY_MS)
    assert reader.ingest([envelope.to_bytes()])[0].status == "duplicate"
    assert reader.search.search("visa-free") == []


# -- the migration ---------------------------------------------------------------------


def _schema(db: Path) -> set[tuple[str, str, str]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    finally:
        conn.close()
    return {(t, n, s or "") for t, n, s in rows}


def _back_to_version_4(db: Path) -> None:
    """Undo what version 5 adds, leaving a database as version 4 wrote it."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        old = sqlite_utils.Database(conn)
        old.table("search_docs").disable_fts()
        old.table("search_docs").drop()
        old.execute("DELETE FROM meta WHERE key = 'search_rebuild'")
        old.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    finally:
        conn.close()


def test_a_version_4_database_gets_its_readable_content_indexed(
    pair: tuple[Node, Node], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    author, reader = pair
    sent = [author.publish(kind, example(kind))[0] for kind in ("incident_alert", "route_report")]
    reader.ingest([e.to_bytes() for e in sent])
    db = reader.home.path / "node.db"
    reader.close()
    _back_to_version_4(db)
    # What a version-4 node creates, to check that the database above is one.
    with monkeypatch.context() as patched:
        patched.setattr(store, "SCHEMA_VERSION", 4)
        store.open_store(tmp_path / "v4.db").conn.close()
    assert _schema(db) == _schema(tmp_path / "v4.db")

    migrated = _open(reader.home)
    try:
        assert migrated.search.search("visa-free") == [sent[0].id]
        assert migrated.search.search("waypoints.place:Khoy") == [sent[1].id]
        meta = dict(migrated.db.execute("SELECT key, value FROM meta").fetchall())
        assert meta == {"schema_version": str(store.SCHEMA_VERSION)}
        assert migrated.search.start() is None  # once only
    finally:
        migrated.close()
    assert _schema(db) == _schema(_fresh_database(tmp_path))


def _fresh_database(tmp_path: Path) -> Path:
    path = tmp_path / "fresh.db"
    store.open_store(path).conn.close()
    return path


def test_a_rebuild_leaves_out_content_that_does_not_open(pair: tuple[Node, Node]) -> None:
    author, reader = pair
    envelope, _ = author.publish("incident_alert", example("incident_alert"))
    reader.ingest([envelope.to_bytes()])
    reader.db.execute("UPDATE contents SET content_key = zeroblob(32)")
    assert reader.search.rebuild() == 0
    assert reader.search.search("visa-free") == []


def test_a_database_of_protocol_version_1_envelopes_is_refused_with_what_to_do(
    pair: tuple[Node, Node], tmp_path: Path
) -> None:
    author, reader = pair
    reader.ingest([author.publish("incident_alert", example("incident_alert"))[0].to_bytes()])
    db = reader.home.path / "node.db"
    reader.close()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    finally:
        conn.close()
    with pytest.raises(StoreError, match="holds envelopes of protocol version 1") as caught:
        store.open_store(db)
    assert "start the node with a new one" in caught.value.advice


# -- log verify checks the index as a stored copy ------------------------------------


def _verified(node: Node) -> list[tuple[int | None, str]]:
    from ilo_node.node.audit import verify_log

    assert node.signing is not None
    return verify_log(node.home.path / "node.db", [node.signing.public], node.node_id).problems


def test_log_verify_refuses_an_index_that_does_not_hold_what_was_signed(
    pair: tuple[Node, Node],
) -> None:
    author, reader = pair
    kept, gone = (author.publish(k, example(k))[0] for k in ("incident_alert", "route_report"))
    reader.ingest([kept.to_bytes(), gone.to_bytes()])
    assert _verified(reader) == []  # an honest index is what the contents give

    # The words of one message changed in its index row, as a changed database would.
    reader.db.execute(
        "UPDATE search_docs SET body = 'nothing of the kind' WHERE envelope_id = ?", [kept.id]
    )
    [(position, problem)] = _verified(reader)
    assert problem.endswith("the search index does not hold what was signed")
    assert position == reader.log.index_of(kept.id)


def test_log_verify_refuses_an_index_that_keeps_the_words_of_erased_content(
    pair: tuple[Node, Node],
) -> None:
    author, reader = pair
    envelope, _ = author.publish("incident_alert", example("incident_alert"))
    reader.ingest([envelope.to_bytes()])
    row = reader.db.execute(
        "SELECT idx, envelope_id, kind, body, fields FROM search_docs"
    ).fetchone()
    reader.apply_retention({"default": 1}, now_ms() + 2 * DAY_MS)
    assert _verified(reader) == []
    # The row put back after erasure: the content is gone, its words are not.
    reader.db.execute(
        "INSERT INTO search_docs (idx, envelope_id, kind, body, fields) VALUES (?, ?, ?, ?, ?)",
        list(row),
    )
    [(_, problem)] = _verified(reader)
    assert "whose content this node does not hold (erased, or never readable here)" in problem
