"""The operator that stores the videos of a finished Grok generation in any object storage.

It takes the :class:`~airflow_provider_grokvideo.models.WaitResult` that the sensor (or the
generate task's wait) pushes to XCom and copies each video (and, if asked, the thumbnail) under an
``ObjectStoragePath`` destination (``file://``, ``s3://``, ``gs://``, ...).  The transfer path
itself (URL checks, naming, streaming, atomic commit) lives in
:mod:`airflow_provider_grokvideo.delivery.download`; this module is the operator only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_grokvideo.delivery.download import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_FILE_NAME,
    FileKind,
    StoredFile,
    check_download_url,
    download_file,
    make_download_client,
    parse_generation,
    thumbnail_file_name,
    video_file_names,
)

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

    from airflow_provider_grokvideo.models import WaitResult


class GrokVideoDownloadOperator(BaseOperator):
    """Store the videos of a finished generation under an ``ObjectStoragePath`` destination.

    :param generation: the ``GrokVideoSensor``'s XCom value: a ``WaitResult.to_xcom()`` dict
        (an older version's ``VideoGeneration.to_dict()`` too; ``wait.output``, or
        ``"{{ ti.xcom_pull('wait') }}"``); a JSON string of it is accepted.  It must be a
        succeeded generation with ``video_urls``.  Templated, mappable
        (``.partial(destination=...).expand(generation=wait.output)``).
    :param destination: a directory URI understood by Airflow's ``ObjectStoragePath``:
        ``file:///data/videos``, ``s3://aws_default@bucket/videos``, ``gs://bucket/videos``...
        (the part before ``@`` is the storage connection id).  Templated.
    :param file_name: the name of each video under the destination; ``{generation_id}`` and
        ``{n}`` (1-based index) are replaced, ``.mp4`` is added when there is no extension,
        ``-{n}`` is added when there are several videos and no ``{n}``.  Templated (Jinja), so
        ``"{{ ds }}/{generation_id}"`` works.  Default ``{generation_id}.mp4``.
    :param include_thumbnail: also store the generation's thumbnail, named after the video with
        ``-thumbnail`` and the image's extension.
    :param overwrite: download again even if a complete copy is already there.
    :param timeout: seconds to connect and for each network read (not for the whole file).
    :param chunk_size: bytes written to storage at a time; by default (None) the pieces as they
        come off the network (at most 64 KiB), which is fastest.  Memory stays flat either way.
    :param expect: what was asked of the video, checked against each stored file
        (``media.check``): ``duration``, ``aspect_ratio``, ``resolution``, ``audio`` (a dict,
        e.g. the generate task's record, ``"{{ ti.xcom_pull('generate', key='grokvideo') }}"``);
        by default the generation's own reported duration.  Templated.  The result
        (``delivered``) goes into the record, the page, the Asset event and the log.
    :param on_mismatch: a stored video that is not what was asked: ``"warn"`` (default) or
        ``"fail"``.

    Returns (XCom) the list of stored URIs, videos first, then the thumbnail if any.  For each
    ``Asset`` in ``outlets`` the asset event's ``extra`` carries ``generation_id``, ``uris``,
    ``videos``, ``thumbnail``, ``files`` (uri, size, reused per file) and the generation's cost:
    ``cost_ticks``, ``cost_usd`` (exact decimal text) and ``cost_source`` (``"billed"``,
    ``"estimated"`` or None).
    """

    template_fields: Sequence[str] = ("generation", "destination", "file_name", "expect")
    template_fields_renderers: ClassVar[dict[str, str]] = {"generation": "json"}
    # Its "Grok video" link is the API server's (tasks/links.py): nothing pushed for it.
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        generation: dict[str, Any] | str | Any,
        destination: str | ObjectStoragePath,
        file_name: str = DEFAULT_FILE_NAME,
        include_thumbnail: bool = False,
        overwrite: bool = False,
        timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        chunk_size: int | None = DEFAULT_CHUNK_SIZE,
        expect: dict[str, Any] | str | None = None,
        on_mismatch: str = "warn",
        **kwargs: Any,
    ) -> None:
        from airflow_provider_grokvideo.media.check import check_on_mismatch

        super().__init__(**kwargs)
        self.expect = expect
        self.on_mismatch = check_on_mismatch(on_mismatch)
        self.generation = generation
        self.destination = destination
        self.file_name = file_name
        self.include_thumbnail = include_thumbnail
        self.overwrite = overwrite
        self.timeout = timeout
        self.chunk_size = chunk_size

    def execute(self, context: Context) -> list[str]:
        from airflow.sdk import ObjectStoragePath

        generation = parse_generation(self.generation)
        destination = ObjectStoragePath(self.destination)
        names = video_file_names(
            self.file_name or DEFAULT_FILE_NAME,
            generation.generation_id,
            len(generation.video_urls),
        )
        jobs: list[tuple[str, ObjectStoragePath, FileKind]] = [
            (url, destination / name, "video")
            for url, name in zip(generation.video_urls, names, strict=True)
        ]
        if self.include_thumbnail:
            if generation.thumbnail_url:
                name = thumbnail_file_name(
                    self.file_name or DEFAULT_FILE_NAME,
                    generation.generation_id,
                    generation.thumbnail_url,
                )
                jobs.append((generation.thumbnail_url, destination / name, "thumbnail"))
            else:
                self.log.warning(
                    "include_thumbnail is set but generation %s has no thumbnail_url",
                    generation.generation_id,
                )
        # Every URL is checked before the first request: one bad URL fails the task up front.
        for url, _, kind in jobs:
            check_download_url(url, kind)

        stored: list[StoredFile] = []
        with make_download_client(self.timeout) as client:
            for url, target, kind in jobs:
                stored.append(
                    download_file(
                        url,
                        target,
                        client=client,
                        kind=kind,
                        expires_at=generation.expires_at,
                        overwrite=self.overwrite,
                        chunk_size=self.chunk_size,
                    )
                )
        for item in stored:
            self.log.info(
                "%s %s: %s (%d bytes)",
                "Kept" if item.reused else "Stored",
                item.kind,
                item.uri,
                item.size,
            )
        uris = [item.uri for item in stored]
        delivered = self._check_videos(generation, stored)
        self._annotate_asset_events(context, generation, stored, delivered)
        from airflow_provider_grokvideo.tasks.catalog import record_stored

        record_stored(context, generation, stored, delivered)  # for the "Grok videos" page
        if delivered is not None and not delivered["matches"] and self.on_mismatch == "fail":
            from airflow_provider_grokvideo.compat import AirflowFailException

            raise AirflowFailException(
                f"The stored video {uris[0]} is not what was asked: "
                + "; ".join(delivered["mismatches"])
            )
        return uris

    def _check_videos(
        self, generation: WaitResult, stored: list[StoredFile]
    ) -> dict[str, Any] | None:
        """The first stored video read (``media.probe``) and compared with ``expect``."""
        from airflow.sdk import ObjectStoragePath

        from airflow_provider_grokvideo.delivery.download import parse_expect
        from airflow_provider_grokvideo.media.check import Expected, compare
        from airflow_provider_grokvideo.media.probe import NotAVideo, probe
        from airflow_provider_grokvideo.tasks.deliver import describe

        video = next((item for item in stored if item.kind == "video"), None)
        if video is None:
            return None
        asked = parse_expect(self.expect)
        if asked is None:
            asked = {"duration": generation.duration}
        try:
            with ObjectStoragePath(video.uri).open("rb") as handle:
                delivered = compare(probe(handle), Expected.from_mapping(asked))
        except (NotAVideo, OSError, ValueError) as exc:
            self.log.warning("Could not read the stored video %s to check it: %s", video.uri, exc)
            return None
        level = self.log.info if delivered["matches"] else self.log.warning
        level("Checked %s: %s", video.uri, describe(delivered))
        for why in delivered["mismatches"]:
            self.log.warning("  %s", why)
        return delivered

    def _annotate_asset_events(
        self,
        context: Context,
        generation: WaitResult,
        stored: list[StoredFile],
        delivered: dict[str, Any] | None = None,
    ) -> None:
        """Put the stored URIs in the ``extra`` of each outlet Asset's event."""
        from airflow.sdk import Asset

        assets = [outlet for outlet in (self.outlets or []) if isinstance(outlet, Asset)]
        if not assets:
            return
        extra: dict[str, Any] = {
            "generation_id": generation.generation_id,
            # The connection that made the video, as the wait's result names it.
            "conn_id": generation.conn_id,
            "uris": [item.uri for item in stored],
            "videos": [item.uri for item in stored if item.kind == "video"],
            "thumbnail": next((item.uri for item in stored if item.kind == "thumbnail"), None),
            "files": [
                {"uri": item.uri, "size": item.size, "kind": item.kind, "reused": item.reused}
                for item in stored
            ],
            # What the video cost (exact: ticks, and dollars as text), and whose figure it is.
            "cost_ticks": generation.cost_ticks,
            "cost_usd": generation.cost_usd_text,
            "cost_source": generation.cost_source,
            # The stored video against what was asked, and xAI's Files copy if kept there.
            "delivered": delivered,
            "file_output": generation.file_output,
        }
        outlet_events = context["outlet_events"]
        for asset in assets:
            outlet_events[asset].extra.update(extra)
