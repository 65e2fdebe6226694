"""Both signatures of a delivery: the hosted service's `CallingBox-Signature` and Standard Webhooks."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from callingbox import BadRequestError
from callingbox.resources.webhooks import Webhooks
from standardwebhooks.webhooks import Webhook

from appliance.results.webhooks import callingbox_signature, signed_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks documentation's example secret
BODY = '{"id":"evt_1","type":"call.completed"}'


def test_callingbox_signature_matches_a_vector_computed_by_hand() -> None:
    # HMAC-SHA256 keyed with the whole secret string (not its base64 part) over "1700000000." + body, hex.
    expected = "8c20fea44c8612b72f42d2013a972258be63c248a9f4202386b58870622c6bfe"
    assert hmac.new(SECRET.encode(), b"1700000000." + BODY.encode(), hashlib.sha256).hexdigest() == expected
    assert callingbox_signature(SECRET, 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_one_delivery_verifies_with_the_sdk_and_with_standardwebhooks() -> None:
    now = int(time.time())
    headers = signed_headers(SECRET, "dlv_1", now, BODY, "call.completed", "call_1")
    event = Webhooks.construct_event(BODY, headers["callingbox-signature"], SECRET)
    assert event.id == "evt_1" and event.type == "call.completed"
    assert Webhook(SECRET).verify(BODY, headers) == {"id": "evt_1", "type": "call.completed"}
    assert headers["callingbox-event-id"] == headers["webhook-id"] == "dlv_1"
    assert headers["callingbox-event-type"] == headers["x-callingbox-event"] == "call.completed"
    assert headers["x-callingbox-call-id"] == "call_1"


def test_a_tampered_body_or_another_secret_does_not_verify() -> None:
    header = signed_headers(SECRET, "dlv_1", int(time.time()), BODY, "call.completed", None)["callingbox-signature"]
    with pytest.raises(BadRequestError):
        Webhooks.construct_event(BODY.replace("evt_1", "evt_2"), header, SECRET)
    with pytest.raises(BadRequestError):
        Webhooks.construct_event(BODY, header, "whsec_other")
