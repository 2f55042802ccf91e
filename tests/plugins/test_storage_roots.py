"""What the "Grok videos" page may serve: the storage roots check, attacked.

Real files in a temporary folder (symlinks, a FIFO, a file swapped after its check); the
object-store cases are checked by URI alone (no store is opened before a URI passes).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from airflow_provider_grokvideo.plugins.storage_roots import (
    ENV_VAR,
    OBJECT_STORE_SCHEMES,
    Place,
    Refused,
    configured_roots,
    locate,
    open_stored,
    read_roots,
)

MP4 = b"\0\0\0\x18ftypmp42\0\0\0\0isommp42" + bytes(64)
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(32)
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(32)
GIF = b"GIF89a" + bytes(32)


def roots_of(*items: str) -> tuple[Place, ...]:
    roots, problems = read_roots(", ".join(items))
    assert not problems, problems
    return roots


def refusal(uri: object, roots: tuple[Place, ...], kind: str = "video") -> str:
    with pytest.raises(Refused) as caught:
        locate(uri, roots, kind)  # type: ignore[arg-type]
    return caught.value.reason


@pytest.fixture
def store(tmp_path: Path) -> dict[str, Path]:
    """``videos/`` (the root) with a real video and thumbnail, and secrets beside it."""
    videos = tmp_path / "videos"
    (videos / "2026-12-02").mkdir(parents=True)
    (videos / "2026-12-02" / "gen-1.mp4").write_bytes(MP4)
    (videos / "gen-1-thumbnail.jpg").write_bytes(JPEG)
    secret = tmp_path / "videos-secret"
    secret.mkdir()
    (secret / "leak.mp4").write_bytes(MP4)
    cfg = tmp_path / "airflow.cfg"
    cfg.write_text("[core]\nfernet_key = SECRET-FERNET-KEY\n")
    return {"tmp": tmp_path, "videos": videos, "secret": secret, "cfg": cfg}


# -- the setting ------------------------------------------------------------------------------


def test_roots_are_read_from_commas_and_whitespace_and_normalized() -> None:
    roots, problems = read_roots(
        " s3://aws_default@my-bucket/videos/ ,file:///data/videos/\n/srv/clips  gs://b"
    )
    assert not problems
    assert roots == (
        Place("s3", "aws_default", "my-bucket", ("videos",)),
        Place("file", "", "", ("data", "videos")),
        Place("file", "", "", ("srv", "clips")),  # a bare absolute path is a local folder
        Place("gs", "", "b", ()),
    )
    assert read_roots("") == ((), ())
    assert read_roots(" , ") == ((), ())
    # local:// is Airflow's other name of file://
    assert read_roots("local:///data/videos")[0] == (Place("file", "", "", ("data", "videos")),)


@pytest.mark.parametrize(
    ("root", "reason"),
    [
        ("https://cdn.example.com/videos/", "scheme 'https' is not an object store"),
        ("http://127.0.0.1:8080/", "scheme 'http' is not an object store"),
        ("ftp://files.example.com/videos/", "scheme 'ftp' is not an object store"),
        ("data:video/mp4;base64;AAAA", "scheme 'data' is not an object store"),
        ("memory://videos/", "scheme 'memory' is not an object store"),
        ("s3://AKIA123:secret@my-bucket/videos/", "credentials in the URI"),
        ("file:///data/videos/../../etc/", "'.', '..' or an empty segment"),
        ("file:///data/%2e%2e/etc/", "percent-encoded separator or dot"),
        ("relative/videos", "no scheme"),
        ("s3:///videos/", "no bucket"),
        ("file://otherhost/data/videos/", "a host in a local file URI"),
    ],
)
def test_a_root_that_is_not_a_plain_object_store_prefix_is_ignored_with_a_warning(
    root: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        roots, problems = read_roots(f"file:///data/videos/, {root}")
    assert roots == (Place("file", "", "", ("data", "videos")),)
    [problem] = problems
    assert reason in problem
    assert "secret" not in problem and "secret" not in caplog.text  # credentials never logged
    assert "ignored root" in caplog.text


def test_http_ftp_and_data_are_never_object_stores() -> None:
    assert not {"http", "https", "ftp", "ftps", "data", "memory", "sftp"} & OBJECT_STORE_SCHEMES


def test_the_setting_is_read_from_airflows_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert configured_roots() == ()
    monkeypatch.setenv(ENV_VAR, "file:///data/videos/ s3://aws_default@b/v")
    assert configured_roots() == roots_of("file:///data/videos/", "s3://aws_default@b/v")


# -- the check of a record's URI ----------------------------------------------------------------


def test_a_file_under_a_root_is_served_with_symlinks_resolved(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    video = store["videos"] / "2026-12-02" / "gen-1.mp4"
    place = locate(video.as_uri(), roots, "video")
    assert place.path == os.path.realpath(video)
    assert locate((store["videos"] / "gen-1-thumbnail.jpg").as_uri(), roots, "thumbnail")
    # The root itself may be a symlink (/data -> /mnt/data): it is resolved too.
    link = store["tmp"] / "videos-link"
    link.symlink_to(store["videos"])
    via_link = roots_of(link.as_uri())
    assert locate(video.as_uri(), via_link, "video").path == os.path.realpath(video)
    assert locate((link / "2026-12-02" / "gen-1.mp4").as_uri(), via_link, "video")
    # A symlink that stays inside the root is fine.
    (store["videos"] / "latest.mp4").symlink_to(video)
    assert locate((store["videos"] / "latest.mp4").as_uri(), roots, "video").path == str(
        video.resolve()
    )


def test_a_prefix_is_matched_by_whole_segments(store: dict[str, Path]) -> None:
    roots = roots_of(str(store["videos"]))  # "/tmp/.../videos", no trailing slash
    leak = (store["secret"] / "leak.mp4").as_uri()  # "/tmp/.../videos-secret/leak.mp4"
    assert leak.startswith(store["videos"].as_uri())  # a string prefix, but not a folder's
    assert "not under the page's storage roots" in refusal(leak, roots)
    # The root itself is no file.
    assert "not a video file name" in refusal(store["videos"].as_uri(), roots)
    assert "an empty segment" in refusal(store["videos"].as_uri() + "/", roots)


def test_dot_dot_and_empty_segments_are_refused_before_any_normalization(
    store: dict[str, Path],
) -> None:
    roots = roots_of(store["videos"].as_uri())
    base = store["videos"].as_uri()
    for uri in (
        f"{base}/../videos-secret/leak.mp4",
        f"{base}/2026-12-02/../../airflow.cfg.mp4",
        f"{base}/./2026-12-02/gen-1.mp4",
        f"{base}//2026-12-02/gen-1.mp4",
        f"{base}/..",
    ):
        assert "'.', '..' or an empty segment" in refusal(uri, roots), uri


@pytest.mark.parametrize("encoded", ["%2e%2e%2f", "%2E%2E%2F", "%2f", "%2F", "%5c", "%00"])
def test_percent_encoded_separators_and_dots_are_refused(
    store: dict[str, Path], encoded: str
) -> None:
    roots = roots_of(store["videos"].as_uri())
    uri = f"{store['videos'].as_uri()}/{encoded}videos-secret{encoded}leak.mp4"
    assert "percent-encoded separator or dot" in refusal(uri, roots)


def test_a_symlink_out_of_the_root_is_refused(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    (store["videos"] / "evil.mp4").symlink_to(store["cfg"])
    assert "a symlink leads out of the storage root" in refusal(
        (store["videos"] / "evil.mp4").as_uri(), roots
    )
    (store["videos"] / "elsewhere").symlink_to(store["secret"], target_is_directory=True)
    assert "a symlink leads out of the storage root" in refusal(
        (store["videos"] / "elsewhere" / "leak.mp4").as_uri(), roots
    )


def test_only_the_kind_asked_for_by_name(store: dict[str, Path]) -> None:
    roots = roots_of(store["tmp"].as_uri())  # even a root as wide as the whole folder
    assert "not a video file name" in refusal(store["cfg"].as_uri(), roots)
    assert "not a thumbnail file name" in refusal(store["cfg"].as_uri(), roots, "thumbnail")
    video = (store["videos"] / "2026-12-02" / "gen-1.mp4").as_uri()
    assert "not a thumbnail file name" in refusal(video, roots, "thumbnail")
    for name in ("a.mp4", "a.M4V", "a.mov"):
        assert locate(f"{store['tmp'].as_uri()}/{name}", roots, "video")
    for name in ("a.jpg", "a.jpeg", "a.png", "a.webp", "a.gif"):
        assert locate(f"{store['tmp'].as_uri()}/{name}", roots, "thumbnail")
    for name in ("a.svg", "a.html", "a.cfg", "a.mp4.txt", "mp4"):
        assert "file name" in refusal(f"{store['tmp'].as_uri()}/{name}", roots, "thumbnail")


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://127.0.0.1:8793/x.mp4", "scheme 'http' is not an object store"),
        ("https://cdn.example.com/x.mp4", "scheme 'https' is not an object store"),
        ("ftp://files.example.com/x.mp4", "scheme 'ftp' is not an object store"),
        ("data:video/mp4;base64,AAAAGGZ0eXBtcDQy", "scheme 'data' is not an object store"),
        ("memory://x/x.mp4", "scheme 'memory' is not an object store"),
        ("/etc/airflow/x.mp4", "no scheme"),
        ("x.mp4", "no scheme"),
        ("s3://AKIA123:secret@my-bucket/videos/x.mp4", "credentials in the URI"),
        ("s3://aws_default@my-bucket/videos/x.mp4?versionId=1", "a query or fragment"),
        ("s3://aws_default@my-bucket/videos/x.mp4#t=1", "a query or fragment"),
        ("s3://aws_default@my-bucket:9000/videos/x.mp4", "a port in the URI"),
        ("s3://@my-bucket/videos/x.mp4", "an empty connection id"),
        ("s3://aws_default@my-bucket/videos\\..\\x.mp4", "backslashes"),
        ("s3://aws_default@my-bucket/videos/x.mp4\n", None),  # stripped: fine
        (42, "no URI"),
        ("", "no URI"),
    ],
)
def test_what_is_not_a_plain_object_store_uri_is_refused(uri: object, reason: str | None) -> None:
    roots = roots_of("s3://aws_default@my-bucket/videos/", "file:///data/videos/")
    if reason is None:
        assert locate(uri, roots, "video") == Place(
            "s3", "aws_default", "my-bucket", ("videos", "x.mp4")
        )
        return
    assert reason in refusal(uri, roots)


def test_object_stores_match_scheme_connection_and_bucket() -> None:
    roots = roots_of("s3://aws_default@my-bucket/videos/", "gs://media/clips")
    ok = locate("s3://aws_default@my-bucket/videos/2026/x.mp4", roots, "video")
    assert ok.uri() == "s3://aws_default@my-bucket/videos/2026/x.mp4"
    assert locate("gs://media/clips/x.mp4", roots, "video").uri() == "gs://media/clips/x.mp4"
    for uri in (
        "s3://aws_default@other-bucket/videos/x.mp4",  # another bucket
        "s3://other_conn@my-bucket/videos/x.mp4",  # another connection (other credentials)
        "s3://my-bucket/videos/x.mp4",  # no connection: the default credentials
        "s3a://aws_default@my-bucket/videos/x.mp4",  # another scheme
        "gs://aws_default@my-bucket/videos/x.mp4",
        "s3://aws_default@my-bucket/videos-secret/x.mp4",  # a prefix by string only
        "s3://aws_default@my-bucket/x.mp4",
        "gs://media/clips-old/x.mp4",
        "file:///my-bucket/videos/x.mp4",
    ):
        assert "not under the page's storage roots" in refusal(uri, roots), uri


def test_no_roots_serve_nothing(store: dict[str, Path]) -> None:
    video = store["videos"] / "2026-12-02" / "gen-1.mp4"
    assert "no storage roots are configured" in refusal(video.as_uri(), ())


# -- opening: the first bytes, and what changed since the check --------------------------------


def test_the_first_bytes_must_be_those_of_the_kind(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    folder = store["videos"]
    (folder / "cfg.mp4").write_bytes(store["cfg"].read_bytes())  # a secret, renamed
    (folder / "text.jpg").write_text("<svg onload=alert(1)>")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "video.png").write_bytes(MP4)
    for name, kind, what in (
        ("cfg.mp4", "video", "not an MP4 video"),
        ("empty.mp4", "video", "not an MP4 video"),
        ("text.jpg", "thumbnail", "not a JPEG, PNG, WebP, GIF or AVIF"),
        ("video.png", "thumbnail", "not a JPEG, PNG, WebP, GIF or AVIF"),
    ):
        place = locate((folder / name).as_uri(), roots, kind)  # type: ignore[arg-type]
        with pytest.raises(Refused, match=what):
            open_stored(place, roots, kind)  # type: ignore[arg-type]
    video = locate((folder / "2026-12-02" / "gen-1.mp4").as_uri(), roots, "video")
    stored = open_stored(video, roots, "video")
    try:
        assert (stored.size, stored.media_type, stored.handle.read()) == (
            len(MP4),
            "video/mp4",
            MP4,
        )
    finally:
        stored.handle.close()


def test_a_fifo_or_a_folder_is_refused_without_hanging(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    fifo = store["videos"] / "hang.mp4"
    os.mkfifo(fifo)
    (store["videos"] / "folder.mp4").mkdir()
    for name in ("hang.mp4", "folder.mp4"):
        place = locate((store["videos"] / name).as_uri(), roots, "video")
        error = _raised_within(10, lambda place=place: open_stored(place, roots, "video"))
        assert isinstance(error, Refused) and "not a regular file" in error.reason, name


def _raised_within(seconds: float, call: object) -> BaseException | None:
    """What ``call()`` raised, run in a daemon thread that must end within ``seconds``."""
    done = threading.Event()
    raised: list[BaseException] = []

    def attempt() -> None:
        try:
            call()  # type: ignore[operator]
        except BaseException as exc:
            raised.append(exc)
        done.set()

    threading.Thread(target=attempt, daemon=True).start()
    assert done.wait(seconds), "it hung"
    return raised[0] if raised else None


def test_a_symlink_swapped_in_after_the_check_serves_nothing(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    target = store["videos"] / "swap.mp4"
    target.write_bytes(MP4)
    place = locate(target.as_uri(), roots, "video")
    target.unlink()
    target.symlink_to(store["secret"] / "leak.mp4")  # a real MP4, outside the root
    # Seen before the open (a symlink is no regular file), or by the open (O_NOFOLLOW).
    with pytest.raises(Refused, match=r"not a regular file|changed while it was checked"):
        open_stored(place, roots, "video")
    # A folder of the path swapped for a symlink: caught once the file is open (/proc).
    day = store["videos"] / "day"
    day.mkdir()
    (day / "clip.mp4").write_bytes(MP4)
    place = locate((day / "clip.mp4").as_uri(), roots, "video")
    (day / "clip.mp4").unlink()
    day.rmdir()
    (store["secret"] / "clip.mp4").write_bytes(MP4)
    day.symlink_to(store["secret"], target_is_directory=True)
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc on this system")
    with pytest.raises(Refused, match="changed while it was checked"):
        open_stored(place, roots, "video")


def test_a_file_gone_since_the_check_is_not_found(store: dict[str, Path]) -> None:
    roots = roots_of(store["videos"].as_uri())
    target = store["videos"] / "2026-12-02" / "gen-1.mp4"
    place = locate(target.as_uri(), roots, "video")
    target.unlink()
    with pytest.raises(FileNotFoundError):
        open_stored(place, roots, "video")
