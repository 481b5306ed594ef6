"""One contract suite over every EventStore: in-memory, SQLite and a private PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import PostgresServer, skip_reason
from shoprec.data import Event, EventType, Item
from shoprec.exceptions import IdempotencyConflictError, ShoprecError, ValidationError
from shoprec.store import (
    AppendResult,
    EventStore,
    MemoryStore,
    PostgresStore,
    SQLiteStore,
    open_store,
)
from shoprec.store._sql import _SCHEMA

KINDS = ["memory", "sqlite", "postgres"]
DURABLE_KINDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL of a throwaway PostgreSQL 15 server on 127.0.0.1 (trust auth), stopped at teardown."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


_schemas = iter(range(1, 1_000_000))


@pytest.fixture(params=KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a fresh, empty store of each kind (a new schema per test on PostgreSQL)."""
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    server = request.getfixturevalue("postgres_server")
    schema = f"test{next(_schemas)}"
    with PostgresStore(server) as admin, admin._write() as cur:
        cur.execute(f"CREATE SCHEMA {schema}")
    return f"{server}?options=-csearch_path%3D{schema}"


@pytest.fixture
def store(store_url: str) -> Iterator[EventStore]:
    with open_store(store_url) as opened:
        yield opened


def ev(user: str, item: str, t: int, kind: str = "click", **fields: object) -> Event:
    return Event(user, item, EventType(kind), t, **fields)  # type: ignore[arg-type]


# -- events ---------------------------------------------------------------------------------------
def test_every_event_field_round_trips(store: EventStore) -> None:
    events = [
        Event("u1", "a", EventType.REVIEW, 1_700_000_000_123, platform="shopA", rating=4.5,
              review="Great — ünïcode ✓", query="", quantity=1),
        Event("u1", "", EventType.SEARCH, 1_700_000_000_200, platform="shopB", query="red shoes"),
        Event("u1", "b", EventType.PURCHASE, -5, quantity=3, rating=0.0),
    ]  # fmt: skip
    result = store.append(events)
    assert result == AppendResult((1, 2, 3), (False, False, False))
    assert store.history("u1") == [events[2], events[0], events[1]]
    assert [e for _, e in store.events_since(0)] == events
    assert store.history("u1")[1].rating == 4.5 and store.history("u1")[2].rating is None


def test_history_orders_by_timestamp_then_sequence_and_limits(store: EventStore) -> None:
    store.append([ev("u", "late", 30), ev("u", "tie1", 20), ev("v", "x", 1)])
    store.append([ev("u", "tie2", 20), ev("u", "early", 10, platform="app")])
    assert [e.item_id for e in store.history("u")] == ["early", "tie1", "tie2", "late"]
    assert [e.item_id for e in store.history("u", limit=2)] == ["tie2", "late"]
    assert [e.item_id for e in store.history("u", limit=10)] == ["early", "tie1", "tie2", "late"]
    assert store.history("u", limit=0) == []
    assert [e.item_id for e in store.history("u", platform="app")] == ["early"]
    assert store.history("nobody") == []


def test_histories_batch_equals_single(store: EventStore) -> None:
    store.append([ev(f"u{i % 3}", f"i{i}", 100 - i) for i in range(12)])
    batch = store.histories(["u2", "u0", "ghost"], limit=3)
    assert list(batch) == ["u2", "u0", "ghost"]
    for user, events in batch.items():
        assert events == store.history(user, limit=3)
    assert [e.item_id for e in batch["u0"]] == ["i6", "i3", "i0"]  # ts 94, 97, 100


def test_client_event_ids_make_appends_idempotent(store: EventStore) -> None:
    first = store.append(
        [ev("u", "a", 1), ev("u", "b", 2), ev("u", "a", 1)], client_event_ids=["c1", None, "c1"]
    )
    assert first == AppendResult((1, 2, 1), (False, False, True))
    assert (first.stored, first.duplicates) == (2, 1)
    retry = store.append([ev("u", "a", 1), ev("u", "c", 3)], client_event_ids=["c1", "c3"])
    assert retry == AppendResult((1, 3), (True, False))
    again = store.append([ev("u", "c", 3)], client_event_ids=["c3"])
    assert again.sequences == (3,) and again.stored == 0
    assert [e.item_id for e in store.history("u")] == ["a", "b", "c"]
    assert store.count_events() == 3


def test_client_event_ids_are_keys_per_user_and_a_changed_payload_conflicts(
    store: EventStore,
) -> None:
    assert store.append([ev("u", "a", 1), ev("w", "b", 2)], client_event_ids=["c1", "c1"]) == (
        AppendResult((1, 2), (False, False))
    )  # two users, one id: two events
    with pytest.raises(IdempotencyConflictError, match="another item_id") as error:
        store.append([ev("w", "c", 3), ev("u", "z", 1)], client_event_ids=["n", "c1"])
    assert (error.value.row, error.value.field) == (2, "client_event_id")
    with pytest.raises(IdempotencyConflictError, match="another timestamp, quantity"):
        store.append([ev("u", "a", 5, quantity=2)], client_event_ids=["c1"])
    with pytest.raises(IdempotencyConflictError, match="another event_type"):  # within a batch
        store.append([ev("v", "a", 1), ev("v", "a", 1, "cart")], client_event_ids=["k", "k"])
    assert store.count_events() == 2  # the refused batches stored nothing
    # a timestamp the caller stamped on arrival may differ in a retry
    retry = store.append([ev("u", "a", 99)], client_event_ids=["c1"], stamped=[True])
    assert retry == AppendResult((1,), (True,))


@pytest.mark.parametrize("store_url", DURABLE_KINDS, indirect=True)
def test_a_schema_1_store_migrates_to_keys_per_user(store_url: str) -> None:
    with open_store(store_url) as store:
        store.append([ev("u", "a", 1)], client_event_ids=["c1"])
    with open_store(store_url) as store, store._write() as cur:  # type: ignore[attr-defined]
        if isinstance(store, SQLiteStore):  # rebuild the version 1 layout: ids unique store-wide
            old = _SCHEMA[0].format(seq_type="INTEGER").replace("TEXT)", "TEXT UNIQUE)")
            for statement in [
                "DROP INDEX shoprec_events_client",
                "ALTER TABLE shoprec_events RENAME TO new_events",
                old,
                "INSERT INTO shoprec_events SELECT * FROM new_events",
                "DROP TABLE new_events",
            ]:
                cur.execute(statement)
        else:
            cur.execute("DROP INDEX shoprec_events_client")
            cur.execute(
                "ALTER TABLE shoprec_events ADD CONSTRAINT shoprec_events_client_event_id_key "
                "UNIQUE (client_event_id)"
            )
        cur.execute("UPDATE shoprec_meta SET value = 1 WHERE key = 'schema_version'")
    with open_store(store_url) as store:
        assert store.append([ev("w", "b", 2)], client_event_ids=["c1"]).stored == 1
        assert store.append([ev("u", "a", 1)], client_event_ids=["c1"]).duplicates == 1
        assert [e.item_id for e in store.history("u")] == ["a"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (Event("u", "a", "bogus", 1), "event_type"),  # type: ignore[arg-type]
        (Event("", "a", EventType.VIEW, 1), "user_id"),
        (Event("u", "", EventType.VIEW, 1), "item_id"),
        (Event("u", "a", EventType.VIEW, "yesterday"), "timestamp"),  # type: ignore[arg-type]
        (Event("u", "a", EventType.RATING, 1, rating=7.0), "rating"),
        (Event("u", "a", EventType.CART, 1, quantity=0), "quantity"),
        (Event("u", "a", EventType.VIEW, 1, review="nul\x00byte"), "review"),
    ],
)
def test_a_bad_event_rejects_the_whole_batch(store: EventStore, bad: Event, field: str) -> None:
    store.append([ev("u", "kept", 1)])
    with pytest.raises(ValidationError) as info:
        store.append([ev("u", "x", 2), ev("u", "y", 3), bad, ev("u", "z", 4)])
    assert (info.value.row, info.value.field) == (3, field)
    assert [e.item_id for e in store.history("u")] == ["kept"]
    assert store.count_events() == 1 and store.last_sequence() == 1


def test_malformed_batches_are_refused(store: EventStore) -> None:
    with pytest.raises(ValidationError, match="client_event_ids"):
        store.append([ev("u", "a", 1)], client_event_ids=["c1", "c2"])
    with pytest.raises(ValidationError) as info:
        store.append([ev("u", "a", 1), ev("u", "b", 1)], client_event_ids=["c1", ""])
    assert (info.value.row, info.value.field) == (2, "client_event_id")
    with pytest.raises(ValidationError, match="sequence of events"):
        store.append(ev("u", "a", 1))  # type: ignore[arg-type]
    assert store.append([]) == AppendResult((), ())
    assert store.count_events() == 0


def test_events_since_tails_and_sequences_are_never_reused(store: EventStore) -> None:
    store.append([ev("u", f"i{i}", i) for i in range(5)])
    page = store.events_since(0, limit=2)
    assert [(seq, e.item_id) for seq, e in page] == [(1, "i0"), (2, "i1")]
    assert [seq for seq, _ in store.events_since(2, limit=10)] == [3, 4, 5]
    assert store.events_since(5) == [] and store.last_sequence() == 5
    store.append([ev("w", "x", 9)])
    assert store.delete_user("w") == 1
    assert store.append([ev("u", "y", 9)]).sequences == (7,)
    assert [seq for seq, _ in store.iter_events(batch_size=2)] == [1, 2, 3, 4, 5, 7]


def test_to_interactions_for_retraining(store: EventStore) -> None:
    store.append([ev("u1", "a", 2, rating=4.0), ev("u2", "b", 1, "purchase", platform="app")])
    interactions = store.to_interactions()
    assert list(interactions.frame["item_id"]) == ["b", "a"]  # time order
    assert interactions.to_events() == [ev("u2", "b", 1, "purchase", platform="app"),
                                        ev("u1", "a", 2, rating=4.0)]  # fmt: skip
    assert list(store.to_interactions(platform="app").frame["user_id"]) == ["u2"]
    assert len(MemoryStore().to_interactions()) == 0


def test_delete_user_forgets_events_and_profile(store: EventStore) -> None:
    store.append([ev("gone", "a", 1), ev("kept", "a", 2), ev("gone", "b", 3)],
                 client_event_ids=["g1", "k1", None])  # fmt: skip
    store.save_profiles({"gone": '{"brands": ["x"]}', "kept": "{}"})
    assert store.known_users() == ["gone", "kept"]
    assert store.delete_user("gone") == 2
    assert store.history("gone") == [] and store.known_users() == ["kept"]
    assert store.load_profiles(["gone", "kept"]) == {"kept": "{}"}
    assert list(store.to_interactions().frame["user_id"]) == ["kept"]
    assert store.count_events() == 1 and store.delete_user("gone") == 0


def test_profiles_are_replaced(store: EventStore) -> None:
    store.save_profiles({"u": "v1"})
    store.save_profiles({"u": "v2", "w": "x"})
    assert store.load_profiles(["u", "w", "nobody"]) == {"u": "v2", "w": "x"}


# -- catalog --------------------------------------------------------------------------------------
def test_catalog_upsert_overwrites_and_delete_removes(store: EventStore) -> None:
    shoe = Item("shoe", "Red shoe", description="leather", brand="Acme",
                category=("Fashion", "Shoes"), price=49.5, attributes={"size": "42"},
                platform="shopA")  # fmt: skip
    assert store.upsert_items([shoe, Item("hat", "Hat"), Item("cap", "Cap")]) == 3
    assert store.get_items(["shoe", "nope"]) == {"shoe": shoe}
    newer = Item("hat", "Straw hat", price=12.0)
    assert store.upsert_items([Item("hat", "overwritten in the batch"), newer]) == 1
    assert store.get_items(["hat"])["hat"] == newer
    assert store.delete_items(["cap", "nope"]) == 1
    catalog = store.catalog()
    assert list(catalog.item_ids) == ["hat", "shoe"]
    assert catalog.item("shoe") == shoe and catalog.item("hat") == newer


def test_removed_items_are_recorded_until_the_item_comes_back(store: EventStore) -> None:
    """The store keeps which items were removed (a served pipeline may still hold them), across
    reopening; an upsert brings an item back."""
    store.upsert_items([Item("hat", "Hat"), Item("cap", "Cap")])
    assert store.removed_items() == frozenset()
    store.delete_items(["cap", "not-in-the-catalog"])
    assert store.removed_items() == {"cap", "not-in-the-catalog"}
    store.upsert_items([Item("cap", "Cap again")])
    assert store.removed_items() == {"not-in-the-catalog"}


def test_bad_items_and_ids_are_refused(store: EventStore) -> None:
    with pytest.raises(ValidationError) as info:
        store.upsert_items([Item("ok", "Ok"), Item("x", "X", price=-1.0)])
    assert (info.value.row, info.value.field) == (2, "price")
    with pytest.raises(ValidationError, match="one string"):
        store.delete_items("shoe")
    assert len(store.catalog()) == 0


# -- durability and concurrency ------------------------------------------------------------------
@pytest.mark.parametrize("store_url", DURABLE_KINDS, indirect=True)
def test_a_new_store_on_the_same_database_sees_everything(store_url: str) -> None:
    with open_store(store_url) as first:
        first.append([ev("u", "a", 1), ev("u", "b", 2)], client_event_ids=["c1", "c2"])
        first.upsert_items([Item("a", "A")])
        first.save_profiles({"u": "doc"})
    with open_store(store_url) as second:
        assert [e.item_id for e in second.history("u")] == ["a", "b"]
        assert second.append([ev("u", "a", 1)], client_event_ids=["c1"]).duplicates == 1
        assert second.append([ev("u", "c", 3)]).sequences == (3,)
        assert list(second.catalog().item_ids) == ["a"]
        assert second.load_profiles(["u"]) == {"u": "doc"}


@pytest.mark.parametrize("store_url", DURABLE_KINDS, indirect=True)
def test_a_closed_store_refuses_calls(store_url: str) -> None:
    store = open_store(store_url)
    store.close()
    store.close()  # idempotent
    for call in (lambda: store.append([ev("u", "a", 1)]), lambda: store.history("u")):
        with pytest.raises(ShoprecError, match="closed"):
            call()


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    import sqlite3

    with SQLiteStore(tmp_path / "s.db"):
        mode = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_concurrent_appends_lose_nothing(store: EventStore) -> None:
    def work(thread: int) -> None:
        for batch in range(25):
            events = [ev(f"t{thread}", f"i{batch}-{j}", batch * 10 + j) for j in range(10)]
            ids = [f"{thread}-{batch}-{j}" for j in range(10)]
            store.append(events, client_event_ids=ids)
            store.history(f"t{thread}", limit=5)
            if batch % 5 == 0:  # a retried batch is a no-op
                assert store.append(events, client_event_ids=ids).stored == 0

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count_events() == 1000 and store.last_sequence() == 1000
    assert [seq for seq, _ in store.iter_events(batch_size=300)] == list(range(1, 1001))
    for thread in range(4):
        history = store.history(f"t{thread}")
        assert [e.timestamp for e in history] == list(range(250))


# -- opening by URL -------------------------------------------------------------------------------
def test_open_store_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    with open_store("sqlite://:memory:") as mem:
        assert isinstance(mem, SQLiteStore) and mem.path == ":memory:"
    with open_store(f"sqlite:///{tmp_path}/abs.db") as absolute:
        assert isinstance(absolute, SQLiteStore) and Path(absolute.path) == tmp_path / "abs.db"
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///rel/r.db") as relative:
        assert isinstance(relative, SQLiteStore) and relative.path == "rel/r.db"
        assert (tmp_path / "rel" / "r.db").is_file()
    for url in ("mysql://host/db", "events.db", "sqlite:/x.db"):
        with pytest.raises(ValidationError) as info:
            open_store(url)
        assert info.value.field == "url"


# -- kill -9 during sustained ingestion ----------------------------------------------------------
_WRITER = """
import sys
from shoprec.data import Event, EventType
from shoprec.store import SQLiteStore

store = SQLiteStore(sys.argv[1])
for batch in range(1_000_000):
    events = [Event(f"u{j % 7}", f"i{j}", EventType.VIEW, batch * 100 + j) for j in range(100)]
    result = store.append(events, client_event_ids=[f"{batch}-{j}" for j in range(100)])
    print(batch, result.sequences[0], result.sequences[-1], flush=True)
"""


def _ack(line: str) -> tuple[int, int, int]:
    batch, first, last = map(int, line.split())
    return batch, first, last


@pytest.mark.slow
def test_sqlite_keeps_every_acknowledged_event_after_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_WRITER), str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    acked: list[tuple[int, int, int]] = []
    stop = time.monotonic() + 3.0
    assert child.stdout is not None
    for line in child.stdout:
        acked.append(_ack(line))
        if time.monotonic() > stop:
            child.send_signal(signal.SIGKILL)
            break
    child.wait()
    # lines printed before the kill were acknowledged too; a torn last line was not
    acked.extend(_ack(line) for line in child.stdout if line.endswith("\n"))
    assert child.returncode == -signal.SIGKILL and len(acked) > 20
    with SQLiteStore(path) as store:
        stored = {seq for seq, _ in store.iter_events()}
        for batch, first, last in acked:
            assert set(range(first, last + 1)) <= stored, f"batch {batch} lost"
        assert store.count_events() >= 100 * len(acked)
        batch = acked[-1][0]  # a retry of the last acknowledged batch stores nothing
        retry = [Event(f"u{j % 7}", f"i{j}", EventType.VIEW, batch * 100 + j) for j in range(100)]
        ids = [f"{batch}-{j}" for j in range(100)]
        assert store.append(retry, client_event_ids=ids).duplicates == 100


# -- online records: impressions, event contexts, documents (issue 16) ----------------------------
def test_impressions_are_stored_per_position_idempotently_and_by_time(store: EventStore) -> None:
    from shoprec.store import Impression

    first = Impression("r1", "u1", ("a", "b", "c"), 1_000, "v1", "exp", "B")
    second = Impression("r2", "u2", ("b",), 2_000, "v2")
    assert store.append_impressions([first, second]) == 4
    assert store.append_impressions([first]) == 0  # a retried flush stores nothing twice
    frame = store.impression_frame()
    assert frame["request_id"].tolist() == ["r1", "r1", "r1", "r2"]
    assert frame["position"].tolist() == [0, 1, 2, 0]
    assert frame.iloc[1].to_dict() == {
        "request_id": "r1", "position": 1, "user_id": "u1", "item_id": "b", "version": "v1",
        "experiment": "exp", "variant": "B", "timestamp": 1_000,
    }  # fmt: skip
    assert store.impression_frame(since=1_500)["request_id"].tolist() == ["r2"]
    assert store.impression_frame(until=1_500)["request_id"].nunique() == 1
    with pytest.raises(ValidationError, match="request_id"):
        store.append_impressions([Impression("", "u1", ("a",), 1, "v")])
    with pytest.raises(ValidationError, match="items"):
        store.append_impressions([Impression("r3", "u1", ("a", ""), 1, "v")])


def test_event_contexts_and_time_ranges_of_events(store: EventStore) -> None:
    from shoprec.store import EventContext

    result = store.append([ev("u1", "a", 10), ev("u2", "b", 20), ev("u1", "c", 30)])
    seqs = result.sequences
    store.append_contexts([EventContext(seqs[0], "r1", 0), EventContext(seqs[2], dwell_ms=900)])
    store.append_contexts([EventContext(seqs[0], "r1", 2)])  # a later write replaces
    contexts = store.context_frame()
    assert contexts.values.tolist() == [[seqs[0], "r1", 2, -1], [seqs[2], "", -1, 900]]
    assert store.context_frame(since_sequence=seqs[0])["sequence"].tolist() == [seqs[2]]
    window = store.event_frame(since=15, until=31)
    assert window["sequence"].tolist() == [seqs[1], seqs[2]]
    assert window["item_id"].tolist() == ["b", "c"]


def test_documents_and_user_deletion_reach_the_online_records(store: EventStore) -> None:
    from shoprec.store import EventContext, Impression

    store.put_document("experiment", "e1", {"variants": ["A", "B"], "status": "running"})
    store.put_document("experiment", "e1", {"variants": ["A", "B"], "status": "stopped"})
    store.put_document("model", "m1", {"ndcg": 0.1})
    assert store.documents("experiment") == {"e1": {"variants": ["A", "B"], "status": "stopped"}}
    assert store.delete_document("model", "m1") and not store.delete_document("model", "m1")
    with pytest.raises(ValidationError, match="JSON"):
        store.put_document("model", "bad", {"x": float("nan")})
    seqs = store.append([ev("u1", "a", 10), ev("u2", "a", 11)]).sequences
    store.append_impressions(
        [Impression("r1", "u1", ("a",), 5, "v"), Impression("r2", "u2", ("a",), 6, "v")]
    )
    store.append_contexts([EventContext(seqs[0], "r1", 0), EventContext(seqs[1], "r2", 0)])
    store.delete_user("u1")
    assert store.impression_frame()["user_id"].tolist() == ["u2"]
    assert store.context_frame()["sequence"].tolist() == [seqs[1]]
