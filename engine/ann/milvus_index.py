"""Milvus, a vector database service: what a networked vector search costs inside the budget.

By default the index is an embedded Milvus Lite database (`milvus.db`, a folder) inside the
index directory, served over gRPC on loopback by a thread of this process: no server to run.
With `uri = "http://HOST:19530"` in `[build.milvus]` the same code talks to a Milvus server or
cluster, the path for catalogs larger than one machine; the index directory then holds only
the manifest, and the collection lives on the server. Every search is a gRPC round trip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import shutil
import tempfile
import threading
import weakref
from pathlib import Path
from typing import ClassVar

import numpy as np
from pymilvus import DataType, MilvusClient
from pymilvus.exceptions import MilvusException

from engine.ann.base import AnnIndex, chunks
from engine.artifacts import atomic_write_dir
from engine.errors import ArtifactError, InvalidRequestError
from engine.progress import Progress

LITE_DB = "milvus.db"  # pymilvus starts Milvus Lite for a URI ending in .db
MIN_POINTS_PER_CELL = 39
INSERT_ROWS = 5_000


def _release_lite(path: Path) -> None:
    """Stop the embedded server of a Milvus Lite folder, so it can be moved or removed."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(path))


class MilvusIndex(AnnIndex):
    """IVF_FLAT in a collection of (id, vector); `nlist` 0 means about 4 sqrt(n) cells."""

    name = "milvus"
    search_defaults: ClassVar[dict[str, int]] = {"nprobe": 128}
    max_results: ClassVar[int | None] = 16_384  # Milvus's limit on results per query
    history_defaults: ClassVar[dict[str, int]] = {"nprobe": 16}

    def __init__(self, uri: str = "", nlist: int = 0, collection: str = "twostage_items") -> None:
        super().__init__(uri=uri, nlist=nlist, collection=collection)
        self._client: MilvusClient | None = None
        self._lite: Path | None = None  # the Milvus Lite folder in use, when embedded
        self._lock = threading.Lock()
        self._cleanup: weakref.finalize | None = None

    @classmethod
    def unreachable(cls, uri: str = "", **_other: object) -> str | None:
        """Milvus Lite is not installed (no `uri`), or the configured Milvus server does not answer."""
        if not uri:
            if importlib.util.find_spec("milvus_lite") is None:
                return "milvus-lite is not installed; `pip install milvus-lite`, or set [build.milvus] uri"
            return None
        try:
            MilvusClient(uri=uri, dedicated=True, timeout=5).close()
        except MilvusException as exc:
            return f"no Milvus server answers at {uri} ({exc.message}); start it or fix [build.milvus] uri"
        return None

    @property
    def collection(self) -> str:
        return self.build_params["collection"]

    def cells(self, n: int) -> int:
        wanted = self.build_params["nlist"] or int(4 * math.sqrt(n))
        return max(1, min(wanted, n // MIN_POINTS_PER_CELL))

    # ----------------------------------------------------------------- building
    def _build(self, data: np.ndarray, progress: Progress) -> None:
        if self.build_params["uri"]:
            client = self._connect(self.build_params["uri"])
        else:  # built in a scratch folder until `save` moves it into the index directory
            scratch = Path(tempfile.mkdtemp(prefix="twostage-milvus-"))
            self._cleanup = weakref.finalize(self, _discard_lite, scratch / LITE_DB)
            client = self._connect_lite(scratch / LITE_DB)
        if client.has_collection(self.collection):
            client.drop_collection(self.collection)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        index_params = client.prepare_index_params()
        index_params.add_index(
            field_name="vector",
            index_type="IVF_FLAT",
            metric_type="IP",
            params={"nlist": self.cells(len(data))},
        )
        client.create_collection(self.collection, schema=schema, index_params=index_params)
        for start, stop in chunks(len(data), INSERT_ROWS):
            rows = [{"id": i, "vector": data[i]} for i in range(start, stop)]  # offline: build only
            client.insert(self.collection, rows)
            progress(f"index {self.name}", stop, len(data))
        client.flush(self.collection)
        if self._lite is not None:
            # Reopened by the first search, from disk: as a loaded index is, with every cell indexed.
            self._close()
        else:
            client.load_collection(self.collection)

    # ---------------------------------------------------------------- searching
    def _search(self, queries: np.ndarray, k: int, params: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        if k > self.max_results:
            raise InvalidRequestError(
                f"Milvus returns at most {self.max_results:,} results per query, {k:,} were asked; "
                "ask for fewer candidates or use another backend"
            )
        # Milvus Lite mixes up searches that run side by side (faiss fails with "Invalid key"):
        # one at a time there. A Milvus server takes concurrent searches itself.
        with self._lock if self._lite is not None else contextlib.nullcontext():
            found = self._connected().search(
                self.collection,
                data=list(queries),
                limit=k,
                search_params={"metric_type": "IP", "params": {"nprobe": params["nprobe"]}},
                output_fields=["id"],  # ids only: Milvus Lite returns the vectors too by default
            )
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for row, hits in enumerate(found):  # one row per query, not per result
            count = len(hits.ids)
            ids[row, :count] = hits.ids
            scores[row, :count] = hits.distances
        return ids, scores

    # ------------------------------------------------------------ save and load
    def _write(self, directory: Path) -> list[str]:
        if self._lite is None:  # a server keeps the collection; the manifest says where
            return []
        final = directory / LITE_DB
        if self._lite == final:  # saved where it already lives: nothing to move
            if self._client is not None:
                self._client.flush(self.collection)
            files = sorted(p for p in final.rglob("*") if p.is_file())
        else:
            self._close()
            _release_lite(final)  # an older index's embedded server, if one is open
            files = atomic_write_dir(final, lambda tmp: shutil.move(str(self._lite), tmp))
            if self._cleanup is not None:
                self._cleanup()  # the scratch folder is empty now
            self._lite = final  # reopened by the next search, after the manifest is written
        return [str(path.relative_to(directory)) for path in files]

    def _read(self, directory: Path) -> None:
        uri = self.build_params["uri"]
        client = self._connect(uri) if uri else self._connect_lite(directory / LITE_DB)
        try:
            if not client.has_collection(self.collection):
                raise ArtifactError(
                    f"Milvus at {uri or directory / LITE_DB} has no collection '{self.collection}'; "
                    "rebuild it with `twostage build --force`"
                )
            client.load_collection(self.collection)
            rows = int(client.get_collection_stats(self.collection)["row_count"])
        except MilvusException as exc:
            raise ArtifactError(f"Milvus at {uri or directory} cannot be read: {exc.message}") from None
        if rows != self.count:
            raise ArtifactError(
                f"Milvus collection '{self.collection}' holds {rows} vectors, the manifest says "
                f"{self.count}; rebuild it with `twostage build --force`"
            )

    def memory_bytes(self) -> int:
        """The float vectors and their ids (Milvus keeps both), plus the cell centroids."""
        return int(self.count * (self.dim * 4 + 8) + self.cells(self.count) * self.dim * 4)

    # ------------------------------------------------------------- connections
    def _connect(self, uri: str) -> MilvusClient:
        try:
            self._client = MilvusClient(uri=uri, dedicated=True)
        except MilvusException as exc:
            raise ArtifactError(
                f"cannot reach Milvus at {uri}: {exc.message}; start the server or fix "
                "[build.milvus] uri in the configuration"
            ) from None
        self._lite = None
        return self._client

    def _connect_lite(self, path: Path) -> MilvusClient:
        try:
            # Dedicated: a channel of its own, closed with it. A shared one keyed by address
            # could outlive an embedded server and reach whichever server takes its port next.
            self._client = MilvusClient(uri=str(path), dedicated=True)
        except MilvusException as exc:
            raise ArtifactError(
                f"Milvus Lite cannot open {path} ({exc.message}); it serves one process at a time: "
                "for `serve --workers N` or several load-test processes, run a Milvus server and "
                "set [build.milvus] uri"
            ) from None
        self._lite = path
        return self._client

    def _connected(self) -> MilvusClient:
        if self._client is None:
            self._connect_lite(self._lite).load_collection(self.collection)
        return self._client

    def _close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._lite is not None:
            _release_lite(self._lite)
        self._client = None


def _discard_lite(path: Path) -> None:
    """Stop an unsaved Milvus Lite folder's server and delete its scratch folder."""
    _release_lite(path)
    shutil.rmtree(path.parent, ignore_errors=True)
