"""Search benchmark: queries per second of ``node.search`` against a plain indexed SELECT
on the same database, and what keeping the index costs at ingest and at retention.

Run from the repository root (nothing needs installing beyond the project's
dependencies)::

    python bench/search.py [--envelopes 2000] [--queries 200] [--repeats 5] [--json]
    python -m bench.search ...                  # equivalent

What is measured, in one process:

* **the corpus**: a scratch network is built with
  :func:`ilo_node.dev.netbuilder.build_network` (``DE@TR``, ``FR@TR``, ``IT@TR``,
  ``COM@EU``). ``--envelopes`` envelopes are sealed by ``DE@TR`` and ``IT@TR`` in
  turn, distribution ``local``, cycling through the example content of every
  kind in :mod:`protocol.examples`, with the first free-text field of each (a
  string where a kind has none) replaced by 12 words drawn from a vocabulary of
  5,000 made-up words (seeded), so that a word is in about five envelopes of
  2,000 and a phrase in one.
  ``FR@TR`` ingests them in batches of 200 with decryption, which indexes them.
* **queries**, each class ``--queries`` different queries, limit 50, through
  :meth:`ilo_node.node.search.SearchIndex.search` (parsing included): ``word`` (a
  vocabulary word), ``two words``, ``phrase`` (two words as they follow each
  other in some envelope), ``field`` (``<text field>:<word>``), ``common word``
  (``2026``, in every envelope: every row matches and is sorted by time),
  ``country name`` (``Türkiye``, in most), and ``word + filters`` (a word, one
  kind, a time range).
* **floor**: a plain indexed SELECT of 50 ids on the same database, ``SELECT id
  FROM envelopes WHERE kind = ? ORDER BY created_ms DESC LIMIT 50`` (index
  ``envelopes_kind``), the least a query that returns 50 ids costs here; the ratio
  says what matching text adds. No target: the figure to read is the ratio.
* **keeping the index**: the time to index every content into an emptied index, as
  ingest does (the text built from the schema, one insert per envelope and its
  FTS5 trigger, inside a transaction that is rolled back), per envelope and as a
  share of the ingest with decryption above (timed once, as the corpus is built:
  read it as an order of magnitude); and the time of
  :meth:`SearchIndex.scrub` after removing a tenth of the envelopes (the FTS5
  'optimize' retention runs, rolled back), for reference.

Every figure is the best of ``--repeats`` runs, and the query classes and the floor
are interleaved so that a burst of load on a shared machine hits them alike. The
node counts its searches (``counters``: ``search.queries``); the report prints that
count beside the number of queries it ran.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from bench.protocol_bench import platform_info  # noqa: E402
from ilo_node.dev.netbuilder import build_network  # noqa: E402
from ilo_node.home.home import now_ms  # noqa: E402
from ilo_node.node.core import Node  # noqa: E402
from keys.distribution import recipients_for  # noqa: E402
from protocol.envelope import REFERENCE_KINDS, seal  # noqa: E402
from protocol.examples import EXAMPLES, example  # noqa: E402
from protocol.kinds import kind_spec  # noqa: E402
from protocol.schema import Str, Text  # noqa: E402

NETWORK = "bench.ilo"
PASSPHRASE = b"ilo-node search bench"
AUTHORS = ("DE@TR", "IT@TR")
RECEIVER = "FR@TR"
NODES = ["COM@EU", "DE@TR", "FR@TR", "IT@TR"]
VOCABULARY = 5_000
WORDS_PER_TEXT = 12
BATCH = 200
LIMIT = 50
SEED = 20_260_401
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass
class Corpus:
    receiver: Node
    envelopes: int
    ingest_s: float
    # (envelope id, kind, validated content) in ingest order, for re-indexing.
    contents: list[tuple[bytes, str, dict[str, Any]]]
    # Free text of each envelope (its words, in order) and the field they are in.
    texts: list[tuple[str, str, list[str]]]
    first_ms: int
    last_ms: int


def _vocabulary(rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _text_field(kind: str) -> str:
    """The kind's first free-text field, or its first string (training_record has no text)."""
    fields = kind_spec(kind).fields
    texts = [f.name for f in fields if isinstance(f.type, Text)]
    return texts[0] if texts else next(f.name for f in fields if isinstance(f.type, Str))


def build_corpus(base: Path, count: int, rng: random.Random) -> Corpus:
    network = build_network(base / "net", NODES, network=NETWORK, passphrase=PASSPHRASE)
    now = now_ms()
    seeds: dict[str, bytes] = {}
    keys: Any = None
    for author in AUTHORS:
        node = Node(network.nodes[author], PASSPHRASE)
        try:
            assert node.signing is not None  # opened with the passphrase
            seeds[author] = node.signing.reveal()
            if keys is None:
                to = recipients_for(node.trust.roster, author, "local", now)
                keys = node.trust.recipient_keys(to, now)
        finally:
            node.close()
    words = _vocabulary(rng)
    # Kinds that stand alone (a retraction or key share refers to an envelope).
    kinds = sorted(k for k in EXAMPLES if k not in REFERENCE_KINDS)
    heads: dict[str, tuple[int, bytes | None]] = {a: (0, None) for a in AUTHORS}
    start_ms = now - 10 * 60_000  # in the past, within the certificates' validity
    raws: list[bytes] = []
    contents: list[tuple[bytes, str, dict[str, Any]]] = []
    texts: list[tuple[str, str, list[str]]] = []
    for i in range(count):
        author, kind = AUTHORS[i % len(AUTHORS)], kinds[i % len(kinds)]
        field = _text_field(kind)
        sentence = [rng.choice(words) for _ in range(WORDS_PER_TEXT)]
        content = example(kind)
        content[field] = " ".join(sentence) + "."
        seq, prev = heads[author]
        envelope = seal(
            signing_seed=seeds[author],
            network=NETWORK,
            kind=kind,
            author_node=author,
            seq=seq + 1,
            prev=prev,
            created_ms=start_ms + i,
            distribution="local",
            recipient_keys=keys,
            handling="H1",
            content=content,
        )
        heads[author] = (seq + 1, envelope.id)
        raws.append(envelope.to_bytes())
        contents.append((envelope.id, kind, kind_spec(kind).validate(content)))
        texts.append((kind, field, sentence))
    receiver = Node(network.nodes[RECEIVER], PASSPHRASE)
    started = time.perf_counter()
    for at in range(0, len(raws), BATCH):
        results = receiver.ingest(raws[at : at + BATCH])
        if any(r.status != "accepted" for r in results):
            raise SystemExit(f"bench corpus: not all accepted: {results[0]}")
    ingest_s = time.perf_counter() - started
    return Corpus(receiver, count, ingest_s, contents, texts, start_ms, start_ms + count - 1)


# --- the queries ------------------------------------------------------------------


Query = tuple[str, dict[str, Any]]


def query_classes(corpus: Corpus, n: int, rng: random.Random) -> dict[str, list[Query]]:
    def text() -> tuple[str, str, list[str]]:
        return rng.choice(corpus.texts)

    def word() -> str:
        return rng.choice(text()[2])

    def phrase() -> str:
        words = text()[2]
        at = rng.randrange(len(words) - 1)
        return f'"{words[at]} {words[at + 1]}"'

    def field() -> str:
        _, name, words = text()
        return f"{name}:{rng.choice(words)}"

    def filtered() -> Query:
        kind, _, words = text()
        middle = (corpus.first_ms + corpus.last_ms) // 2
        return rng.choice(words), {"kinds": [kind], "since_ms": corpus.first_ms, "until_ms": middle}

    makers: dict[str, Callable[[], Query]] = {
        "word": lambda: (word(), {}),
        "two words": lambda: (f"{word()} {word()}", {}),
        "phrase": lambda: (phrase(), {}),
        "field": lambda: (field(), {}),
        "common word": lambda: ("2026", {}),
        "country name": lambda: ("Türkiye", {}),
        "word + filters": filtered,
    }
    return {name: [make() for _ in range(n)] for name, make in makers.items()}


def plain_queries(n: int, rng: random.Random) -> list[str]:
    # Kinds that stand alone (a retraction or key share refers to an envelope).
    kinds = sorted(k for k in EXAMPLES if k not in REFERENCE_KINDS)
    return [rng.choice(kinds) for _ in range(n)]


# --- measuring --------------------------------------------------------------------


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(
    corpus: Corpus, classes: dict[str, list[Query]], plain: list[str], repeats: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    node = corpus.receiver
    search = node.search.search
    db = node.db
    samples: dict[str, list[float]] = {name: [] for name in [*classes, "plain SELECT"]}
    hits: dict[str, int] = dict.fromkeys(classes, 0)

    def run_class(name: str) -> Callable[[], object]:
        def run() -> None:
            found = 0
            for query, filters in classes[name]:
                found += len(search(query, limit=LIMIT, **filters))
            hits[name] = found

        return run

    def run_plain() -> None:
        for kind in plain:
            db.execute(
                "SELECT id FROM envelopes WHERE kind = ? ORDER BY created_ms DESC LIMIT ?",
                [kind, LIMIT],
            ).fetchall()

    for _ in range(repeats):
        samples["plain SELECT"].append(_timed(run_plain))
        for name in classes:
            samples[name].append(_timed(run_class(name)))
    return samples, hits


def measure_upkeep(corpus: Corpus, repeats: int) -> dict[str, list[float]]:
    """Indexing everything into an emptied index, as ingest does, and a scrub after
    removing a tenth: each in a transaction that is rolled back."""
    node = corpus.receiver
    db, index = node.db, node.search
    out: dict[str, list[float]] = {"index": [], "scrub": []}
    removed = [envelope_id for envelope_id, _, _ in corpus.contents[::10]]

    def index_all() -> None:
        for envelope_id, kind, fields in corpus.contents:
            index.index(envelope_id, kind, fields)

    for _ in range(repeats):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM search_docs")
            out["index"].append(_timed(index_all))
        finally:
            db.execute("ROLLBACK")
        db.execute("BEGIN IMMEDIATE")
        try:
            for envelope_id in removed:
                index.remove(envelope_id)
            out["scrub"].append(_timed(index.scrub))
        finally:
            db.execute("ROLLBACK")
    return out


# --- report -----------------------------------------------------------------------


def report(
    corpus: Corpus,
    samples: dict[str, list[float]],
    hits: dict[str, int],
    upkeep: dict[str, list[float]],
    args: argparse.Namespace,
    counted: int,
) -> dict[str, Any]:
    n = args.queries
    qps = {name: n / min(s) for name, s in samples.items()}
    floor = qps["plain SELECT"]
    per_envelope_ingest = corpus.ingest_s / corpus.envelopes
    per_envelope_index = min(upkeep["index"]) / corpus.envelopes
    pages = int(
        corpus.receiver.db.execute("SELECT COUNT(*) FROM search_docs_fts_data").fetchone()[0]
    )
    return {
        "benchmark": "search (bench/search.py)",
        "platform": {**platform_info(), "sqlite": sqlite3.sqlite_version},
        "settings": {
            "envelopes": corpus.envelopes,
            "queries_per_class": n,
            "repeats": args.repeats,
            "limit": LIMIT,
            "vocabulary": VOCABULARY,
            "words_per_text": WORDS_PER_TEXT,
        },
        "queries": {
            name: {
                "best_per_s": qps[name],
                "ratio_to_plain_select": qps[name] / floor,
                "mean_results": hits[name] / n if name in hits else None,
                "samples_s": samples[name],
            }
            for name in samples
        },
        "upkeep": {
            "ingest_with_decryption_us_per_envelope": per_envelope_ingest * 1e6,
            "index_us_per_envelope": per_envelope_index * 1e6,
            "index_share_of_ingest": per_envelope_index / per_envelope_ingest,
            "scrub_ms_after_removing_a_tenth": min(upkeep["scrub"]) * 1e3,
            "fts_data_rows": pages,
        },
        "counted_by_the_node": counted,
        "queries_run": n * (len(samples) - 1) * args.repeats,
    }


def print_text(result: dict[str, Any]) -> None:
    p, s, u = result["platform"], result["settings"], result["upkeep"]
    print("Search benchmark (bench/search.py)")
    print(f"  date       {p['date']}")
    print(f"  cpu        {p['cpu_model']} ({p['nproc']} usable CPUs)")
    print(f"  python     {p['python']} on {p['platform']}, SQLite {p['sqlite']}")
    print(
        f"  workload   {s['envelopes']} envelopes of every kind, readable by {RECEIVER}; "
        f"{s['words_per_text']} words per text from {s['vocabulary']:,} made-up words"
    )
    print(
        f"  timing     best of {s['repeats']} interleaved runs of {s['queries_per_class']} "
        f"queries per class, limit {s['limit']}"
    )
    print()
    print(f"  {'query class':<18} {'best /s':>10} {'ratio to plain SELECT':>22} {'mean hits':>10}")
    for name, q in result["queries"].items():
        hits = "-" if q["mean_results"] is None else f"{q['mean_results']:.1f}"
        print(
            f"  {name:<18} {q['best_per_s']:>10,.0f} {q['ratio_to_plain_select']:>22.3f} {hits:>10}"
        )
    print()
    print(
        f"  indexing at ingest: {u['index_us_per_envelope']:.1f} µs per envelope, "
        f"{u['index_share_of_ingest']:.1%} of ingest with decryption "
        f"({u['ingest_with_decryption_us_per_envelope']:.0f} µs per envelope, batches of {BATCH})"
    )
    print(
        f"  scrub (FTS5 'optimize') after removing a tenth: "
        f"{u['scrub_ms_after_removing_a_tenth']:.1f} ms for the whole index "
        f"({u['fts_data_rows']} rows of search_docs_fts_data)"
    )
    print(
        f"  searches counted by the node: {result['counted_by_the_node']:,} "
        f"(run: {result['queries_run']:,})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=2000, help="envelopes (default 2000)")
    parser.add_argument("--queries", type=int, default=200, help="queries per class (default 200)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs each (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to put the scratch network (default: $TMPDIR)"
    )
    args = parser.parse_args(argv)
    if args.envelopes < 20 or args.queries < 1 or args.repeats < 1:
        parser.error("--envelopes must be at least 20, --queries and --repeats at least 1")
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory(prefix="ilo-search-bench-", dir=args.dir) as tmp:
        corpus = build_corpus(Path(tmp), args.envelopes, rng)
        try:
            before = corpus.receiver.counters.get("search", "queries")
            classes = query_classes(corpus, args.queries, rng)
            samples, hits = measure(corpus, classes, plain_queries(args.queries, rng), args.repeats)
            counted = corpus.receiver.counters.get("search", "queries") - before
            upkeep = measure_upkeep(corpus, args.repeats)
            result = report(corpus, samples, hits, upkeep, args, counted)
        finally:
            corpus.receiver.close()
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_text(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
