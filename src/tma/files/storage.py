"""Where the bytes of uploaded files live: one small interface over one object-store library.

`FileStore` puts, streams and deletes objects by key (a file's id: the server's own random
name, never a client string). Behind it, obstore (Python bindings of the Rust
`object_store` crate) serves both back ends: `LocalStore` on the directory
`TMA_UPLOAD_DIR`, `S3Store` on `TMA_STORAGE_URL=s3://bucket/prefix`. A put is atomic in
both: an object is either written whole or not at all (a local put writes a staging file
and renames it; an S3 multipart upload is completed only after its last part).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import obstore
from obstore.store import LocalStore, S3Store

from tma.core.config import Settings

if TYPE_CHECKING:
    from obstore.store import ClientConfig, ObjectStore, S3Config

# Chunks of a download; an S3 multipart part must be at least 5 MiB (obstore's default).
READ_CHUNK_BYTES = 256 * 1024


class StoredObjectMissing(Exception):
    """The object of a key is not in the store."""


@dataclass(frozen=True)
class ObjectStream:
    """An object being read: its size, and its bytes as they come."""

    size: int
    chunks: AsyncIterator[bytes]


def _s3_store(settings: Settings) -> S3Store:
    assert settings.storage_url is not None
    config: S3Config = {}
    if settings.s3_endpoint_url:
        config["endpoint"] = settings.s3_endpoint_url
    if settings.s3_region:
        config["region"] = settings.s3_region
    if settings.s3_access_key_id:
        config["access_key_id"] = settings.s3_access_key_id
    if settings.s3_secret_access_key:
        config["secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
    client: ClientConfig = {}
    if (settings.s3_endpoint_url or "").startswith("http://"):
        client["allow_http"] = True  # a local S3-compatible server; AWS itself is https
    # Settings left unset here come from the AWS_* environment variables (obstore reads them).
    return S3Store.from_url(settings.storage_url, config=config, client_options=client)


class FileStore:
    """The file store of the app (`app.state.file_store`).

    The underlying store is opened on first use (or by `open()` at start-up), so building
    an app that never touches a file (the contract-coverage plugin, the fuzz schema) creates
    no directory."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: ObjectStore | None = None

    @property
    def description(self) -> str:
        """Where the bytes go, for logs and the README: a directory or a bucket URL."""
        return self._settings.storage_url or str(self._settings.upload_dir.resolve())

    def open(self) -> ObjectStore:
        """The store, created on first call: the upload directory is made if missing."""
        if self._store is None:
            if self._settings.storage_url:
                self._store = _s3_store(self._settings)
            else:
                directory = self._settings.upload_dir.resolve()
                self._store = LocalStore(prefix=directory, mkdir=True)
        return self._store

    async def put(self, key: str, data: bytes | AsyncIterable[bytes]) -> None:
        """Store the object `key` from `data` (bytes, or chunks as they come): written
        whole, or not at all."""
        await obstore.put_async(self.open(), key, data)

    async def read(self, key: str) -> ObjectStream:
        """Open the object `key` for reading (StoredObjectMissing when it is not there)."""
        try:
            result = await obstore.get_async(self.open(), key)
        except FileNotFoundError as exc:
            raise StoredObjectMissing(key) from exc
        return ObjectStream(size=result.meta["size"], chunks=_chunks(result))

    async def size(self, key: str) -> int:
        """The size of the object `key`, without reading it (StoredObjectMissing when it is
        not there): the answer to a HEAD."""
        try:
            meta = await obstore.head_async(self.open(), key)
        except FileNotFoundError as exc:
            raise StoredObjectMissing(key) from exc
        return int(meta["size"])

    async def delete(self, key: str) -> None:
        """Remove the object `key`; nothing to remove is fine."""
        with contextlib.suppress(FileNotFoundError):
            await obstore.delete_async(self.open(), key)

    async def keys(self) -> list[str]:
        """Every key in the store, sorted (tests and the seed use it)."""
        found: list[str] = []
        async for batch in obstore.list(self.open()):
            found.extend(meta["path"] for meta in batch)  # relative to the store's prefix
        return sorted(found)


async def _chunks(result: Any) -> AsyncIterator[bytes]:
    async for chunk in result.stream(min_chunk_size=READ_CHUNK_BYTES):
        yield chunk
