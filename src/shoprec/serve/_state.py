"""The serving state: the active pipeline (and the versions a rollback returns to), the event store,
and per-user caches kept fresh on every write.

Reads take no lock: a request reads :attr:`ServingState.active` once and works on that
deployment, so a swap never changes a pipeline under a running request. Writes are ordered:

- catalog changes and swaps hold ``_admin_lock``; the store is written first (durable), then the
  active pipeline, and every pipeline that becomes active later replays the store's catalog
  (:func:`~shoprec.serve._catalog.sync_catalog`), so upserts and deletions survive reloads and
  restarts;
- ingestion, user deletion and portrait loads hold ``_user_lock``: an event is committed to the
  store, the user's cached history is dropped and their portrait is updated, all before the
  call returns (read-your-writes).

The user caches are in :mod:`shoprec.serve._caches`, deployments in
:mod:`shoprec.serve._deployment`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

from shoprec.data import Catalog, Event, Item
from shoprec.exceptions import (
    NotFoundError,
    StateConflictError,
    StoreUnavailableError,
)
from shoprec.online import Experiment
from shoprec.pipeline import Pipeline, Recommendation, Request, forget_users
from shoprec.profiles import PortraitConfig, UserPortrait
from shoprec.serve._artifacts_dir import ArtifactsDir
from shoprec.serve._caches import HistoryCache, PortraitCache
from shoprec.serve._catalog import CatalogIndex, sync_catalog
from shoprec.serve._deployment import Deployment, artifact_version, warm_up
from shoprec.serve._event_checks import RESERVED_USER_PREFIX, check_events
from shoprec.serve._experiments import ExperimentRouting
from shoprec.serve._queries import RecommendQuery
from shoprec.serve._versions import KeptVersion, VersionHistory
from shoprec.serve._workers import StoreTail
from shoprec.store import AppendResult, EventStore

__all__ = ["ServingState"]

logger = logging.getLogger(__name__)

_REMOVED_DOC = RESERVED_USER_PREFIX + "removed-items"  # where stores of schema 1 kept them


class ServingState:
    """Everything the endpoints share: the deployments, the store and the user caches.

    Parameters
    ----------
    pipeline
        The pipeline to serve first.
    store
        The event store (its catalog holds the items upserted through the service).
    path
        Where ``pipeline`` was loaded from, if anywhere.
    history_limit
        Most recent events per user that recommendations and search read.
    cache_users
        Users whose history and portrait stay in memory (least recently used dropped first).
    portrait_config
        How portraits weigh events.
    max_future_skew_ms
        Events timestamped further ahead of the service's clock are refused.
    artifacts
        Where reloads may read pipelines from (``None``: anywhere, for library use).
    keep_versions
        How many replaced versions a rollback can return to.
    shared
        Other processes write to ``store`` too (``shoprec serve --workers N``): every read
        first follows their events (:class:`~shoprec.serve._workers.StoreTail`).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        store: EventStore,
        *,
        path: str | Path | None = None,
        history_limit: int = 200,
        cache_users: int = 10_000,
        portrait_config: PortraitConfig | None = None,
        max_future_skew_ms: int = 86_400_000,
        artifacts: ArtifactsDir | None = None,
        keep_versions: int = 3,
        shared: bool = False,
    ) -> None:
        self.store = store
        self._tail = StoreTail(store) if shared else None
        self.max_future_skew_ms = max_future_skew_ms
        self.history_limit = history_limit
        self.cache_users = cache_users
        self._admin_lock = threading.RLock()
        self._user_lock = threading.RLock()
        self._histories = HistoryCache(store, limit=history_limit, capacity=cache_users)
        self._portraits = PortraitCache(
            store, portrait_config or PortraitConfig(), capacity=cache_users
        )
        self._indexes: dict[int, CatalogIndex | None] = {}  # by id of a serving pipeline
        self._removed: set[str] = set(_removed_items(store))
        self.artifacts = artifacts
        self._versions = VersionHistory(keep_versions)
        self._active = self._deploy(pipeline, path)
        self._routing: ExperimentRouting | None = None

    # -- deployments ------------------------------------------------------------------------------
    @property
    def active(self) -> Deployment:
        """The deployment serving requests now."""
        return self._active

    @property
    def previous(self) -> Deployment | KeptVersion | None:
        """The version a plain rollback returns to."""
        return self._versions.latest

    @property
    def kept(self) -> list[Deployment | KeptVersion]:
        """The versions a rollback can return to, most recent first."""
        return self._versions.entries()

    def load(self, path: str | Path) -> Deployment:
        """Load the artifact at ``path`` (while the current one keeps serving) and swap it in;
        with an :class:`ArtifactsDir`, only from inside it."""
        pipeline, real = self._load(path)
        return self.swap(pipeline, path=real)

    def _load(self, path: str | Path) -> tuple[Pipeline, str | Path]:
        if self.artifacts is None:
            return Pipeline.load(path), path
        return self.artifacts.load(path)

    def swap(self, pipeline: Pipeline, *, path: str | Path | None = None) -> Deployment:
        """Make ``pipeline`` active at once; the active one becomes :attr:`previous`."""
        with self._admin_lock:
            deployment = self._deploy(pipeline, path)
            self._activate(deployment)
        logger.info("deployed pipeline version %s", deployment.version)
        return deployment

    def rollback(self, version: str | None = None) -> Deployment:
        """Swap a kept version back in: ``version``, or the most recent (the current one is
        kept in turn). One no longer in memory is loaded again and must be unchanged on disk.

        Raises
        ------
        StateConflictError
            If no such version is kept, or its files changed since.
        """
        with self._admin_lock:
            entry = self._versions.find(version)
            if isinstance(entry, KeptVersion):
                pipeline, real = self._load(entry.path)
                deployment = self._deploy(pipeline, real)
                if deployment.version != entry.version:
                    raise StateConflictError(
                        f"the artifact of version {entry.version} changed on disk since "
                        f"(now {deployment.version}); reload it instead"
                    )
            else:
                deployment = entry
                sync_catalog(deployment, self.store, self._removed)
            self._versions.remove(entry)
            self._activate(deployment)
        logger.info("rolled back to pipeline version %s", deployment.version)
        return deployment

    def _activate(self, deployment: Deployment) -> None:
        with self._user_lock:  # portraits read item features: none may span the swap
            self._versions.push(self._active)
            self._active = deployment
            self._portraits.clear()

    def _deploy(self, pipeline: Pipeline, path: str | Path | None) -> Deployment:
        deployment = Deployment(
            pipeline=pipeline,
            version=artifact_version(pipeline, path),
            path=None if path is None else str(path),
            loaded_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        sync_catalog(deployment, self.store, self._removed)
        forget_users(pipeline, digests=self.store.deleted_users())
        warm_up(pipeline)
        return deployment

    # -- experiments ------------------------------------------------------------------------------
    @property
    def routing(self) -> ExperimentRouting | None:
        """The running experiment's variant deployments, if an experiment runs."""
        return self._routing

    def run_experiment(self, experiment: Experiment | None) -> None:
        """Split users between ``experiment``'s variants (loading their pipelines first while
        the current routing keeps serving), or stop splitting with ``None``."""
        with self._admin_lock:
            routing = None
            if experiment is not None:
                deploy = lambda path: self._deploy(*self._load(path))  # noqa: E731
                routing = ExperimentRouting.load(experiment, self._active, deploy)
            self._routing = routing

    def _serving(self) -> list[Deployment]:
        """The active deployment and each other pipeline an experiment serves."""
        routing = self._routing
        extra = [] if routing is None else list(routing.pipelines())
        return [self._active, *(d for d in extra if d.pipeline is not self._active.pipeline)]

    # -- events -----------------------------------------------------------------------------------
    def ingest(
        self,
        events: Sequence[Event],
        client_event_ids: Sequence[str | None] | None = None,
        stamped: Sequence[bool] | None = None,
    ) -> AppendResult:
        """Store ``events`` durably and fold them into their users' portraits; ``stamped``
        marks events timestamped on arrival (see :meth:`EventStore.append`).

        Raises
        ------
        ValidationError
            Naming the 1-based row and the field of the first bad event; nothing is stored.
        IdempotencyConflictError
            When an event reuses its user's client event id with other fields.
        """
        check_events(
            events,
            self._active.pipeline.catalog,
            self._removed,
            max_future_skew_ms=self.max_future_skew_ms,
        )
        with self._user_lock:
            result = self.store.append(events, client_event_ids=client_event_ids, stamped=stamped)
            if self._tail is not None:
                self._tail.mark_own(result.sequences)
            fresh = [e for e, dup in zip(events, result.duplicate, strict=True) if not dup]
            users = list(dict.fromkeys(e.user_id for e in fresh))
            self._histories.invalidate(users)
            if fresh:
                deployment = self._active
                features = deployment.pipeline.item_features()
                self._portraits.fold(fresh, features, deployment.version)
        return result

    def _follow(self) -> None:
        """Drop the cached state of users whose events other workers committed."""
        if self._tail is None:
            return
        users = list(dict.fromkeys(e.user_id for e in self._tail.catch_up()))
        if users:
            with self._user_lock:
                self._histories.invalidate(users)
                for user in users:
                    self._portraits.drop(user)

    # -- users ------------------------------------------------------------------------------------
    def history(self, user_id: str, *, platform: str | None = None) -> tuple[Event, ...]:
        """The user's ``history_limit`` most recent events, oldest first (cached)."""
        self._follow()
        return self._histories.get(user_id, platform)

    def portrait(self, user_id: str) -> UserPortrait:
        """A snapshot of the user's current portrait.

        Raises
        ------
        NotFoundError
            If the user has no events.
        """
        if user_id.startswith(RESERVED_USER_PREFIX):
            raise NotFoundError("unknown user")
        self._follow()
        with self._user_lock:
            deployment = self._active
            features = deployment.pipeline.item_features()
            portrait = self._portraits.get(user_id, features, deployment.version)
        if portrait is None:
            raise NotFoundError("unknown user")
        return portrait

    def delete_user(self, user_id: str) -> tuple[int, bool]:
        """Remove the user's events, portrait and cached state, and their training history
        from every loaded pipeline (the store's deletion list keeps them out of pipelines
        loaded later); returns the events removed and whether a pipeline knew the user.

        Raises
        ------
        NotFoundError
            If the user has no events and no pipeline knows them.
        """
        if user_id.startswith(RESERVED_USER_PREFIX):
            raise NotFoundError("unknown user")
        with self._user_lock:
            removed = self.store.delete_user(user_id)
            self._portraits.drop(user_id)
            self._histories.invalidate([user_id])
        with self._admin_lock:
            loaded = [*self._serving(), *(v for v in self.kept if isinstance(v, Deployment))]
            trained = any(forget_users(d.pipeline, [user_id]) for d in loaded)
        if not removed and not trained:
            raise NotFoundError("unknown user")
        return removed, trained

    # -- reads ------------------------------------------------------------------------------------
    def recommend(self, query: RecommendQuery) -> tuple[list[Recommendation], Deployment]:
        """The user's recommendations from their latest history (anonymous for no user or a
        user without events), and the deployment that computed them."""
        return self.recommend_batch([query])[0]

    def recommend_batch(
        self, queries: Sequence[RecommendQuery]
    ) -> list[tuple[list[Recommendation], Deployment]]:
        """:meth:`recommend` for several users, one pipeline call per deployment serving them
        (one, unless an experiment splits them between variants)."""
        self._follow()
        active, routing = self._active, self._routing
        routes = [(routing and routing.route(q.user_id)) or active for q in queries]
        out: list[tuple[list[Recommendation], Deployment] | None] = [None] * len(queries)
        for deployment in {id(d): d for d in routes}.values():
            rows = [i for i, d in enumerate(routes) if d is deployment]
            pipeline = deployment.pipeline
            index = self._catalog_index(pipeline)
            requests = [self._request(queries[i], pipeline, index) for i in rows]
            for i, recommendations in zip(rows, pipeline.recommend(requests), strict=True):
                out[i] = (recommendations, deployment)
        return [result for result in out if result is not None]

    def _request(self, query: RecommendQuery, pipeline: Pipeline, index: CatalogIndex) -> Request:
        user_id = query.user_id
        history = self._histories.get(user_id, query.platform) if user_id else ()
        ranked = pipeline.ranker_ is not None and user_id and any(e.item_id for e in history)
        portrait = self.portrait(user_id) if ranked and user_id else None
        return query.to_request(history, index, portrait)

    def search(
        self, query: str, *, user_id: str | None = None, k: int = 10, personalization: float = 0.3
    ) -> list[tuple[str, float]]:
        """Items matching ``query``, personalised by the user's portrait (its interest vector)
        when the user is known."""
        interest = None
        if user_id and any(e.item_id for e in self.history(user_id)):
            interest = self.portrait(user_id).interest_vector()
        return self._active.pipeline.search(
            query, interest=interest, k=k, personalization=personalization
        )

    def similar_items(self, item_id: str, *, k: int = 10) -> list[tuple[str, float]]:
        """The items closest to ``item_id``; :class:`NotFoundError` for an unknown one."""
        self.item(item_id)
        return self._active.pipeline.similar_items(item_id, k=k)

    def item(self, item_id: str) -> Item:
        """The current record of ``item_id``; :class:`NotFoundError` when unknown or deleted."""
        catalog = self._active.pipeline.catalog
        if item_id not in catalog or item_id in self._removed:
            raise NotFoundError("unknown item")
        return catalog.item(item_id)

    def _catalog_index(self, pipeline: Pipeline) -> CatalogIndex:
        catalog = pipeline.catalog
        index = self._indexes.get(id(pipeline))
        if index is None or index.catalog is not catalog:
            self._indexes = {
                id(d.pipeline): self._indexes.get(id(d.pipeline)) for d in self._serving()
            }
            index = self._indexes[id(pipeline)] = CatalogIndex(catalog)
        return index

    # -- catalog ----------------------------------------------------------------------------------
    def upsert_items(self, items: Sequence[Item]) -> int:
        """Insert or replace items; new ones are recommendable at once. Returns items written."""
        updates = Catalog.from_items(items)  # refuses duplicate ids
        with self._admin_lock:
            written = self.store.upsert_items(items)
            restored = self._removed & set(updates.item_ids)  # the store forgot them too
            self._removed -= restored
            for deployment in self._serving():
                deployment.pipeline.add_items(updates)
                deployment.removed -= restored
                deployment.pipeline.item_features()
        return written

    def delete_items(self, item_ids: Collection[str]) -> int:
        """Stop serving ``item_ids``; returns how many were known.

        Raises
        ------
        NotFoundError
            If none of them is known.
        """
        with self._admin_lock:
            deployment = self._active
            catalog = deployment.pipeline.catalog
            known = {i for i in item_ids if i in catalog and i not in self._removed}
            if not known:
                raise NotFoundError("unknown item")
            self.store.delete_items(sorted(known))  # recorded in the store's removed_items
            self._removed |= known
            for serving in self._serving():
                serving.pipeline.remove_items(known & set(serving.pipeline.catalog.item_ids))
                serving.removed |= known
        return len(known)

    # -- health -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Save the changed portraits (the store stays open: it belongs to the caller)."""
        with self._user_lock:
            try:
                saved = self._portraits.flush()
            except StoreUnavailableError:  # they are rebuilt from the events when next read
                logger.warning("the store is unavailable; changed portraits were not saved")
                return
        logger.debug("saved %d portraits", saved)

    def check_store(self) -> None:
        """Raise if the store cannot answer a query."""
        self.store.last_sequence()


def _removed_items(store: EventStore) -> frozenset[str]:
    """The store's removed items; a list kept the older way (as a profile document under a
    reserved user id) moves into the store's own record first."""
    docs = store.load_profiles([_REMOVED_DOC])
    if docs:
        store.delete_items(json.loads(docs[_REMOVED_DOC]))
        store.save_profiles({_REMOVED_DOC: "[]"})
    return store.removed_items()
