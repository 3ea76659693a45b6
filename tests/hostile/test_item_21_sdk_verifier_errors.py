"""Item 21: the Python SDK's `verify_postback` raises only `PostbackVerificationError`,
whatever the body (not UTF-8, nested too deep), headers (bad base64, not a number) or
secret: a merchant's handler written as documented answers 400, never 500.

The cases live in the SDK's own suite (sdk/python/tests/test_verify_hostile.py), run here in
a subprocess where the gateway's `apaygate` package does not shadow the SDK's.
"""

from __future__ import annotations

from tests.sdk.test_python_sdk import sdk_pytest


def test_the_sdk_verifier_raises_only_its_own_error_on_hostile_postbacks():
    proc = sdk_pytest("-q", "tests/test_verify_hostile.py")

    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
