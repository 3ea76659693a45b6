"""The SDK builds under /docs/sdk/: the files, their headers, and what the docs print of them."""

from __future__ import annotations

import base64
import hashlib

import pytest

from docsite.sdk_builds import sdk_versions

VERSION = sdk_versions()["python"]
TARBALL = f"apaygate-sdk-{sdk_versions()['typescript']}.tgz"
WHEEL = f"apaygate-{VERSION}-py3-none-any.whl"


@pytest.fixture
def dist(tmp_path, settings):
    settings.SDK_DIST_DIR = str(tmp_path)
    settings.PUBLIC_BASE_URL = "https://pay.example.com"
    (tmp_path / TARBALL).write_bytes(b"tarball bytes")
    (tmp_path / WHEEL).write_bytes(b"wheel bytes")
    return tmp_path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("filename", "content", "content_type"),
    [(TARBALL, b"tarball bytes", "application/gzip"), (WHEEL, b"wheel bytes", "application/zip")],
)
def test_a_build_is_served_with_its_type_checksum_and_cache_rules(
    client, dist, filename, content, content_type
):
    response = client.get(f"/docs/sdk/{filename}")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["ETag"] == f'"{_sha256(content)}"'
    digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
    assert response["Repr-Digest"] == f"sha-256=:{digest}:"


def test_head_answers_the_headers_without_the_file(client, dist):
    response = client.head(f"/docs/sdk/{TARBALL}")

    assert response.status_code == 200
    assert response["ETag"] == f'"{_sha256(b"tarball bytes")}"'
    assert b"".join(response.streaming_content) == b""


def test_a_cache_holding_the_current_build_gets_304(client, dist):
    etag = f'"{_sha256(b"wheel bytes")}"'

    response = client.get(f"/docs/sdk/{WHEEL}", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304


def test_a_rebuilt_file_is_served_with_its_new_checksum(client, dist):
    (dist / WHEEL).write_bytes(b"rebuilt wheel bytes, longer")

    response = client.get(f"/docs/sdk/{WHEEL}")

    assert response["ETag"] == f'"{_sha256(b"rebuilt wheel bytes, longer")}"'


@pytest.mark.parametrize(
    "filename",
    [
        "apaygate-sdk-0.0.1.tgz",  # another version: only the current one is served
        "apaygate-0.0.1-py3-none-any.whl",
        "notes.txt",
        "..%2Fpyproject.toml",
    ],
)
def test_only_the_current_builds_are_served(client, dist, filename):
    (dist / "notes.txt").write_text("not a build")
    (dist / "apaygate-sdk-0.0.1.tgz").write_bytes(b"old")

    assert client.get(f"/docs/sdk/{filename}").status_code == 404


def test_a_build_not_made_answers_404(client, dist):
    (dist / TARBALL).unlink()

    assert client.get(f"/docs/sdk/{TARBALL}").status_code == 404


def test_the_sdk_page_prints_install_commands_on_the_public_origin_with_checksums(client, dist):
    html = client.get("/docs/sdks/").content.decode()

    assert f"https://pay.example.com/docs/sdk/{TARBALL}" in html
    wheel_url = f"https://pay.example.com/docs/sdk/{WHEEL}#sha256={_sha256(b'wheel bytes')}"
    assert wheel_url in html
    assert _sha256(b"tarball bytes") in html
    assert "{{" not in html


def test_the_sdk_page_says_when_a_build_is_missing(client, dist):
    (dist / WHEEL).unlink()

    html = client.get("/docs/sdks/").content.decode()

    assert "(not built on this gateway)" in html
    assert f"https://pay.example.com/docs/sdk/{WHEEL}" in html
    assert f"{WHEEL}#sha256" not in html  # no checksum to check against
