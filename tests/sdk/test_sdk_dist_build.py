"""scripts/build-sdk-dist.sh: the files the gateway serves, named as it serves them, stable."""

from __future__ import annotations

import hashlib
import subprocess
import tarfile
import zipfile

from docsite.sdk_builds import sdk_versions
from tests.sdk.gateway import ROOT


def _build(out) -> dict[str, str]:
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-sdk-dist.sh"), str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}


def test_the_build_makes_the_two_files_the_docs_name_and_the_same_bytes_twice(sdk_built, tmp_path):
    versions = sdk_versions()
    tarball = f"apaygate-sdk-{versions['typescript']}.tgz"
    wheel = f"apaygate-{versions['python']}-py3-none-any.whl"
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "apaygate-sdk-0.0.1.tgz").write_bytes(b"an older build")

    first = _build(tmp_path / "one")
    second = _build(tmp_path / "two")

    assert set(first) == {tarball, wheel}  # the older build is gone
    assert first == second
    with tarfile.open(tmp_path / "one" / tarball) as archive:
        assert "package/dist/index.js" in archive.getnames()
    assert "apaygate/py.typed" in zipfile.ZipFile(tmp_path / "one" / wheel).namelist()
