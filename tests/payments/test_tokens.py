from __future__ import annotations

from payments.models import ApiToken
from payments.tokens import token_digest
from tests.factories import make_token


def test_issued_token_is_stored_only_as_its_digest(db):
    token, key = make_token(mode="test")

    stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith("apg_test_")
    assert len(key) >= len("apg_test_") + 43  # 256 bits in URL-safe base64
    assert stored.digest == token_digest(key)
    assert key not in {stored.digest, stored.prefix, stored.label}
