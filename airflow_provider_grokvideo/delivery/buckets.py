"""The user's bucket, through the storage's own Airflow provider: ``s3://`` with the Amazon
provider's ``S3Hook`` (extra ``[s3]``), ``gs://`` with the Google provider's ``GCSHook``
(extra ``[gcs]``).  A destination is written ``s3://<conn_id>@<bucket>/<key>`` (as
``ObjectStoragePath`` writes it); without ``<conn_id>@`` the provider's default connection.

Each provider is imported only here, only when a task delivers: a DAG file that names a
destination imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

SCHEMES = {
    "s3": "the Amazon provider (pip install 'airflow-provider-grokvideo[s3]')",
    "gs": "the Google provider (pip install 'airflow-provider-grokvideo[gcs]')",
}
#: The longest a presigned URL lives (S3's SigV4 limit: 7 days).
MAX_URL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Destination:
    """Where a video is delivered: ``scheme`` (``s3``, ``gs``), the connection, bucket, key."""

    scheme: str
    conn_id: str | None
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: Any) -> Destination:
        text = str(uri).strip() if uri is not None else ""
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "gcs":
            scheme = "gs"
        conn_id, _, bucket = parts.netloc.rpartition("@")
        key = parts.path.lstrip("/")
        if scheme not in SCHEMES or not bucket or not key or key.endswith("/"):
            raise ValueError(
                f"deliver_to must be s3://[conn_id@]bucket/key.mp4 or gs://[conn_id@]bucket/"
                f"key.mp4, not {text!r}"
            )
        return cls(scheme, conn_id or None, bucket, key)

    def sibling(self, suffix: str) -> Destination:
        """The object beside this one with ``suffix`` for its extension (a poster's)."""
        stem = self.key.rsplit(".", 1)[0] if "." in self.key.rsplit("/", 1)[-1] else self.key
        return Destination(self.scheme, self.conn_id, self.bucket, stem + suffix)

    @property
    def uri(self) -> str:
        """The object's URI, with its connection, as ``ObjectStoragePath`` reads it."""
        who = f"{self.conn_id}@" if self.conn_id else ""
        return f"{self.scheme}://{who}{self.bucket}/{self.key}"


class Bucket(Protocol):
    def presign_put(self, seconds: int) -> str: ...
    def size(self) -> int | None: ...
    def read_into(self, handle: IO[bytes]) -> None: ...
    def upload(self, handle: IO[bytes]) -> None: ...
    def put(self, key: str, data: bytes, content_type: str) -> None: ...


def bucket_for(destination: Destination) -> Bucket:
    """The bucket of ``destination`` through its provider (imported now)."""
    try:
        if destination.scheme == "s3":
            return S3Bucket(destination)
        return GCSBucket(destination)
    except ImportError as exc:
        raise ImportError(
            f"delivering to {destination.scheme}:// needs {SCHEMES[destination.scheme]}: {exc}"
        ) from exc


class S3Bucket:
    """An S3 object through ``S3Hook`` (its connection's keys, region and endpoint)."""

    def __init__(self, destination: Destination) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.destination = destination
        self.hook = S3Hook(aws_conn_id=destination.conn_id or "aws_default")

    @property
    def _client(self) -> Any:
        return self.hook.get_conn()

    def presign_put(self, seconds: int) -> str:
        # No content type in the signature: the uploader's headers are not ours to choose.
        return str(
            self._client.generate_presigned_url(
                "put_object",
                Params={"Bucket": self.destination.bucket, "Key": self.destination.key},
                ExpiresIn=min(seconds, MAX_URL_SECONDS),
            )
        )

    def size(self) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self._client.head_object(
                Bucket=self.destination.bucket, Key=self.destination.key
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    def read_into(self, handle: IO[bytes]) -> None:
        self._client.download_fileobj(self.destination.bucket, self.destination.key, handle)

    def upload(self, handle: IO[bytes]) -> None:
        handle.seek(0)
        self._client.upload_fileobj(
            handle,
            self.destination.bucket,
            self.destination.key,
            ExtraArgs={"ContentType": "video/mp4"},
        )

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(
            Bucket=self.destination.bucket, Key=key, Body=data, ContentType=content_type
        )


class GCSBucket:
    """A Cloud Storage object through ``GCSHook`` (a V4 signed PUT URL)."""

    def __init__(self, destination: Destination) -> None:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        self.destination = destination
        self.hook = GCSHook(gcp_conn_id=destination.conn_id or "google_cloud_default")

    @property
    def _blob(self) -> Any:
        client = self.hook.get_conn()
        return client.bucket(self.destination.bucket).blob(self.destination.key)

    def presign_put(self, seconds: int) -> str:
        return str(
            self._blob.generate_signed_url(
                version="v4",
                expiration=timedelta(seconds=min(seconds, MAX_URL_SECONDS)),
                method="PUT",
            )
        )

    def size(self) -> int | None:
        from google.api_core.exceptions import NotFound

        blob = self._blob
        try:
            blob.reload()
        except NotFound:
            return None
        return int(blob.size) if blob.size is not None else None

    def read_into(self, handle: IO[bytes]) -> None:
        self._blob.download_to_file(handle)

    def upload(self, handle: IO[bytes]) -> None:
        handle.seek(0)
        self._blob.upload_from_file(handle, content_type="video/mp4")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        client = self.hook.get_conn()
        blob = client.bucket(self.destination.bucket).blob(key)
        blob.upload_from_string(data, content_type=content_type)
