"""Where uploaded evidence is kept: outside the web root, by key. A folder by default (the
instance folder's `evidence/`, or `file:///path`); `s3://bucket/prefix` for S3-compatible
storage shared by several app hosts (boto3, the `s3` extra; endpoint, region and keys from
boto3's usual environment variables such as `AWS_ENDPOINT_URL`)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from flask import Flask


class EvidenceStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class FolderStore:
    """Files under one folder; a key is a relative path made by the portal, never by a user."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key outside the store: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole or not at all: a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3Store:
    """Objects in an S3-compatible bucket under a key prefix."""

    def __init__(self, bucket: str, prefix: str) -> None:
        import boto3  # the `s3` extra: only deployments that use it install it

        self.client = boto3.client("s3")
        self.bucket, self.prefix = bucket, prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                               ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def evidence_store(app: Flask) -> EvidenceStore:
    """The store `STORAGE_URL` names (made once per app)."""
    store = app.extensions.get("evidence_store")
    if store is None:
        url = app.config.get("STORAGE_URL") or ""
        parts = urlsplit(url)
        if parts.scheme == "s3":
            store = S3Store(parts.netloc, parts.path)
        elif parts.scheme in ("", "file"):
            store = FolderStore(Path(parts.path) if url else Path(app.instance_path) / "evidence")
        else:
            raise ValueError(f"STORAGE_URL: unknown scheme {parts.scheme!r} (file or s3)")
        app.extensions["evidence_store"] = store
    return store
