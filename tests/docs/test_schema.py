"""The OpenAPI schema: valid, complete for merchants, and served with offline UIs."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from openapi_spec_validator import validate

from payments.api.openapi.answers import ERROR_CODES
from payments.delivery.wire import delivery_payload, payload_body
from payments.models import PaymentStatus, PostbackEvent
from tests.factories import MerchantFactory, PaymentFactory

OPERATIONS = {
    ("/api/v1/init-payment", "post"),
    ("/api/v1/payments", "get"),
    ("/api/v1/payments/{payment_id}", "get"),
}


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_valid_openapi_in_json_and_yaml(client, schema):
    validate(schema)

    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    validate(yaml.safe_load(response.content))


def test_schema_needs_no_token(client):
    assert client.get("/api/schema/", HTTP_AUTHORIZATION="Token apg_live_wrong").status_code == 200


def test_every_merchant_operation_has_summary_description_and_token_security(schema):
    for path, method in OPERATIONS:
        operation = schema["paths"][path][method]
        assert operation["summary"] and operation["description"], path
        assert operation["security"] == [{"ApiToken": []}], path
    scheme = schema["components"]["securitySchemes"]["ApiToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "Token <key>" in scheme["description"]


def test_every_error_response_lists_its_codes_with_an_example_each(schema):
    for path, method in OPERATIONS:
        for status, response in schema["paths"][path][method]["responses"].items():
            if int(status) < 400:
                continue
            codes = ERROR_CODES[int(status)]
            examples = response["content"]["application/json"]["examples"]
            assert {e["value"]["code"] for e in examples.values()} == set(codes), (path, status)
            for code in codes:
                assert f"`{code}`" in response["description"]


def test_init_payment_documents_every_error_status_the_contract_names(schema):
    responses = schema["paths"]["/api/v1/init-payment"]["post"]["responses"]

    assert {
        "200",
        "201",
        "400",
        "401",
        "403",
        "409",
        "413",
        "415",
        "429",
        "502",
        "503",
        "504",
    } <= set(responses)
    assert "Retry-After" in responses["429"]["headers"]


def test_init_payment_examples_show_both_seed_spellings(schema):
    examples = schema["paths"]["/api/v1/init-payment"]["post"]["requestBody"]["content"][
        "application/json"
    ]["examples"]
    bodies = [e["value"] for e in examples.values()]

    assert any("customerEmail" in b and "successUrl" in b for b in bodies)
    assert any("email" in b and "sussessUrl" in b and "type" in b for b in bodies)


def test_statuses_are_a_named_enum_with_every_status(schema):
    enum = schema["components"]["schemas"]["PaymentStatus"]

    assert enum["enum"] == [s.value for s in PaymentStatus]
    status = schema["components"]["schemas"]["Payment"]["properties"]["status"]
    assert "#/components/schemas/PaymentStatus" in json.dumps(status)


def test_no_enum_has_a_generated_name(schema):
    # Hash-suffixed names (`StatusE7cEnum`) change when choices change: clients break.
    names = [name for name, s in schema["components"]["schemas"].items() if "enum" in s]
    assert {"PaymentStatus", "PaymentType", "PostbackEvent", "PostbackDeliveryStatus"} <= set(names)
    assert not [name for name in names if re.search(r"[0-9a-f]{3}Enum$", name, re.I)], names


def test_payment_schema_has_the_fields_the_api_returns(api, merchant, schema):
    payment = PaymentFactory(merchant=merchant, is_test=False)  # the `api` token is live
    answer = api.get(f"/api/v1/payments/{payment.public_id}").json()

    assert set(schema["components"]["schemas"]["Payment"]["properties"]) == set(answer)


def test_swagger_ui_and_redoc_are_served_from_the_app(client):
    swagger = client.get("/api/docs/")
    assert swagger.status_code == 200
    html = swagger.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html

    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()

    redoc = client.get("/api/redoc/")
    assert redoc.status_code == 200
    assert '<script src="/api/redoc/redoc.standalone.js">' in redoc.content.decode()
    assert "googleapis" not in redoc.content.decode()


def test_redoc_bundle_is_served_without_the_cdn_logo(client):
    response = client.get("/api/redoc/redoc.standalone.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    body = response.content.decode()
    assert "cdn.redoc.ly" not in body
    assert 'alt:"redocly logo",onError:()=>t(!1),src:""' in body  # the image, addressless

    again = client.get("/api/redoc/redoc.standalone.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_swagger_ui_keeps_the_authorization_across_reloads(client):
    script = client.get("/api/docs/?script=").content.decode()

    assert '"persistAuthorization": true' in script


@pytest.mark.parametrize(
    "asset",
    [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
    ],
)
def test_ui_assets_are_served_locally(client, asset):
    response = client.get(asset)

    assert response.status_code == 200


def test_schema_is_openapi_3_1_with_every_postback_as_a_webhook(schema):
    assert schema["openapi"].startswith("3.1")
    assert set(schema["webhooks"]) == {event.value for event in PostbackEvent}

    for webhook in schema["webhooks"].values():
        operation = webhook["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/PostbackBody"}


def test_postback_body_schema_is_what_the_gateway_sends(db, schema):
    # given a real postback body, built by the wire format
    merchant = MerchantFactory()
    payment = PaymentFactory(merchant=merchant, status="succeeded", merchant_reference="o-1")
    body = json.loads(payload_body(delivery_payload(payment=payment, event="payment.succeeded")))

    # then the schema describes exactly those fields, and requires them
    component = schema["components"]["schemas"]["PostbackBody"]
    assert set(body) <= set(component["properties"])
    assert set(component["required"]) == set(body)


def test_a_browser_sees_the_schema_instead_of_downloading_it(client):
    browser = client.get("/api/schema/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    tool = client.get("/api/schema/")

    assert browser["Content-Type"] == "text/plain; charset=utf-8"
    assert browser["Content-Disposition"].startswith("inline")
    assert browser.content.decode().startswith("openapi: 3.1.0")
    assert tool["Content-Type"].startswith("application/vnd.oai.openapi")
