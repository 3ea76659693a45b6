"""The SDK builds the gateway serves at /docs/sdk/: which files, their versions and checksums.

`scripts/build-sdk-dist.sh` writes the npm tarball and the wheel into `SDK_DIST_DIR` (at
`make run` and in the image's build). Their names come from the packages' own version fields
(`sdk/typescript/package.json`, `sdk/python/pyproject.toml`), so the URLs the docs print are
stable for a version and change only when the SDKs' version does. A file that is missing is
still named (the docs read the same), with no checksum, and its URL answers 404.
"""

from __future__ import annotations

import base64
import hashlib
import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings


@dataclass(frozen=True)
class SdkBuild:
    """One installable file: what the docs print about it and what the download view sends."""

    registry_name: str
    version: str
    filename: str
    content_type: str
    path: Path
    sha256: str  # hex; "" when the file has not been built
    size: int

    @property
    def built(self) -> bool:
        return bool(self.sha256)

    @property
    def sha256_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def sdk_source_root() -> Path:
    return Path(settings.BASE_DIR) / "sdk"


def sdk_dist_dir() -> Path:
    return Path(settings.SDK_DIST_DIR)


def sdk_versions() -> dict[str, str]:
    """Read each package's version from its own package file (the one the registries read)."""
    root = sdk_source_root()
    package_json = json.loads((root / "typescript" / "package.json").read_text(encoding="utf-8"))
    pyproject = tomllib.loads((root / "python" / "pyproject.toml").read_text(encoding="utf-8"))
    return {"typescript": package_json["version"], "python": pyproject["project"]["version"]}


@lru_cache(maxsize=16)
def _digest(path: Path, mtime_ns: int, size: int) -> str:
    # mtime and size are the cache key: a rebuilt file is hashed again.
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _build(*, registry_name: str, version: str, filename: str, content_type: str) -> SdkBuild:
    path = sdk_dist_dir() / filename
    try:
        stat = path.stat()
    except FileNotFoundError:
        sha256, size = "", 0
    else:
        sha256, size = _digest(path, stat.st_mtime_ns, stat.st_size), stat.st_size
    return SdkBuild(
        registry_name=registry_name,
        version=version,
        filename=filename,
        content_type=content_type,
        path=path,
        sha256=sha256,
        size=size,
    )


def sdk_builds() -> dict[str, SdkBuild]:
    """The two builds, keyed `npm` and `pip`, whether or not their files exist yet."""
    versions = sdk_versions()
    return {
        # npm's own name for a scoped package's tarball: @apaygate/sdk -> apaygate-sdk-<v>.tgz
        "npm": _build(
            registry_name="@apaygate/sdk",
            version=versions["typescript"],
            filename=f"apaygate-sdk-{versions['typescript']}.tgz",
            content_type="application/gzip",
        ),
        # A wheel is a zip archive (PEP 427); pip reads it whatever the type says.
        "pip": _build(
            registry_name="apaygate",
            version=versions["python"],
            filename=f"apaygate-{versions['python']}-py3-none-any.whl",
            content_type="application/zip",
        ),
    }


def sdk_build_by_filename(filename: str) -> SdkBuild | None:
    """The build served under this file name, or None (a 404) for any other name."""
    for build in sdk_builds().values():
        if build.filename == filename and build.built:
            return build
    return None


def sdk_docs_values(*, base_url: str, download_url) -> dict[str, str]:
    """What `{{ sdk_* }}` becomes in the docs: install commands' URLs, versions, checksums.

    `download_url(filename)` is the path of the download view; the pip URL carries the
    wheel's checksum as a `#sha256=` fragment, which pip checks before installing.
    """
    builds = sdk_builds()
    npm, pip = builds["npm"], builds["pip"]
    pip_url = base_url + download_url(pip.filename)
    if pip.built:
        pip_url += f"#sha256={pip.sha256}"
    return {
        "sdk_npm_url": base_url + download_url(npm.filename),
        "sdk_npm_file": npm.filename,
        "sdk_npm_version": npm.version,
        "sdk_npm_sha256": npm.sha256 or "(not built on this gateway)",
        "sdk_pip_url": pip_url,
        "sdk_pip_file": pip.filename,
        "sdk_pip_version": pip.version,
        "sdk_pip_sha256": pip.sha256 or "(not built on this gateway)",
    }
