"""Run whenever new Grok videos land: a DAG scheduled on the ``grokvideo_videos`` Asset.

The download task of the producing DAG (``GrokVideoDownloadOperator`` with
``outlets=[GROKVIDEO_VIDEOS]``) emits one asset event per generation it stored, and puts the
stored URIs in the event's ``extra``::

    {"generation_id": "task_01J...", "videos": ["file:///.../task_01J....mp4"],
     "thumbnail": null, "uris": [...], "files": [{"uri": ..., "size": ..., "kind": ...,
     "reused": false}]}

This DAG reads them from ``triggering_asset_events``: a run may be triggered by several events
at once (several generations, or a mapped download), so it lists the videos of all of them.

The Asset's URI is an identifier, not the storage location: the videos themselves may be on
any ``ObjectStoragePath`` (local disk, S3, GCS...), and each event says where.  A producer and
a consumer must declare the same name and URI.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Asset, task

#: The Asset every Grok video download updates.  Copy this definition as is into producers.
GROKVIDEO_VIDEOS = Asset(name="grokvideo_videos", uri="file:///grokvideo/videos")


def videos_from_events(events: Any) -> list[dict[str, Any]]:
    """One entry per stored video in the triggering events of :data:`GROKVIDEO_VIDEOS`."""
    found: list[dict[str, Any]] = []
    for event in events or []:
        extra = getattr(event, "extra", None) or {}
        sizes = {item.get("uri"): item.get("size") for item in extra.get("files") or []}
        for uri in extra.get("videos") or []:
            found.append(
                {
                    "generation_id": extra.get("generation_id"),
                    "uri": uri,
                    "size": sizes.get(uri),
                    "thumbnail": extra.get("thumbnail"),
                }
            )
    return found


with DAG(
    dag_id="example_grokvideo_asset_consumer",
    schedule=[GROKVIDEO_VIDEOS],
    catchup=False,
    tags=["example", "grokvideo"],
    doc_md=__doc__,
):

    @task
    def list_new_videos(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Log and return the videos stored since this DAG last ran."""
        events = (triggering_asset_events or {}).get(GROKVIDEO_VIDEOS, [])
        videos = videos_from_events(events)
        for video in videos:
            size = f"{video['size']} bytes" if video["size"] is not None else "size unknown"
            print(f"new video of generation {video['generation_id']}: {video['uri']} ({size})")
        if not videos:
            print("triggered without new videos (a manual run?)")
        return videos

    list_new_videos()
