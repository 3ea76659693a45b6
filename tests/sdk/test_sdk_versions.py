"""The SDKs are versioned with the API: every place a version is written agrees.

The served file names (`apaygate-sdk-<v>.tgz`, `apaygate-<v>-py3-none-any.whl`), the docs'
install commands and the release tag all come from these fields.
"""

from __future__ import annotations

import re

from django.conf import settings

from docsite.sdk_builds import sdk_versions
from tests.sdk.gateway import SDK_PY, SDK_TS


def test_both_sdks_carry_the_apis_version():
    api_version = settings.SPECTACULAR_SETTINGS["VERSION"]

    assert sdk_versions() == {"typescript": api_version, "python": api_version}


def test_each_sdks_runtime_version_constant_matches_its_package_file():
    versions = sdk_versions()
    python_constant = (SDK_PY / "src" / "apaygate" / "_version.py").read_text()
    typescript_constant = (SDK_TS / "src" / "version.ts").read_text()

    assert re.search(r'__version__ = "([^"]+)"', python_constant)[1] == versions["python"]
    assert re.search(r'VERSION = "([^"]+)"', typescript_constant)[1] == versions["typescript"]
