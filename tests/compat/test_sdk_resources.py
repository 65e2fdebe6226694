"""Every public method of the pinned SDK's `calls`, `numbers` and `webhooks`, its exceptions and its tool
DSL, against the box; webhooks verified with the SDK's `construct_event` and with `standardwebhooks`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from callingbox import (
    AuthenticationError,
    BadRequestError,
    Callingbox,
    NotFoundError,
    WebhookDelivery,
    tool,
)
from callingbox.resources.webhooks import Webhooks
from standardwebhooks.webhooks import Webhook

from appliance.call_status import TERMINAL
from tests.integration.conftest import requires_asterisk
from tests.receiver import Receiver
from tests.support import ServerProcess

from .conftest import wait_terminal

pytestmark = requires_asterisk

BUSY = "+12025550102"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def test_exceptions_for_400_401_404(box: ServerProcess, client: Callingbox) -> None:
    with pytest.raises(BadRequestError) as bad:
        client.calls.create(to="555-0102", prompt="x")
    assert "to" in bad.value.message
    with pytest.raises(BadRequestError) as mixed:
        client._request("POST", "/v1/calls", json={"agent_id": str(uuid.uuid4()), "to": BUSY})
    assert "agent_id" in mixed.value.message
    with pytest.raises(NotFoundError):
        client.calls.retrieve(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        client.webhooks.get_endpoint("missing")
    with Callingbox(api_key="sk_wrong", base_url=box.url) as stranger, pytest.raises(AuthenticationError):
        stranger.calls.list()


def test_calls_list_pages_forward_and_backward(client: Callingbox) -> None:
    made = [client.calls.create(to=BUSY, prompt=f"page {i}").id for i in range(5)]
    newest_first = made[::-1]
    first = client.calls.list(limit=2)
    assert [c.id for c in first] == newest_first[:2] and first.has_more
    older = client.calls.list(limit=2, starting_after=first[-1].id)
    assert [c.id for c in older] == newest_first[2:4]
    newer = client.calls.list(limit=2, ending_before=made[1])
    assert [c.id for c in newer] == [made[3], made[2]] and newer.has_more
    assert [c.id for c in client.calls.iter_calls(limit=2)][:5] == newest_first
    # Backwards from the oldest of ours: every newer call, still newest first.
    assert [c.id for c in client.calls.iter_calls(limit=2, ending_before=made[0])][-4:] == newest_first[:4]
    assert not client.calls.list(limit=2, ending_before=newest_first[0]).has_more
    assert all(wait_terminal(client, call_id).status == "busy" for call_id in made)
    assert client.calls.retrieve_transcript(made[0]) == []  # nobody answered


def test_a_call_carries_the_fields_the_sdk_reads_and_its_inline_webhook_verifies(
    box: ServerProcess, client: Callingbox, receiver: Receiver
) -> None:
    url = receiver.url + "/inline"
    call = client.calls.create(
        to=BUSY, prompt="Bonjour", language="fr", voicemail_action="leave_message", context={"k": 1}, webhook_url=url
    )
    assert call.language == "fr" and call.metadata["language"] == "fr" and call.prompt == "Bonjour"
    assert call.reservation_status == "reserved" and call.webhook_status == "pending"
    assert call.webhook_url == url and call.direction == "outbound"
    done = wait_terminal(client, call.id)
    assert done.status == "busy" and done.reservation_status == "released" and done.ended_at
    # Inline deliveries are signed with the box's default secret, which `appliance webhooks secret` prints.
    secret = box.inline_secret()
    deadline = time.monotonic() + 15
    while not (got := [r for r in receiver.received if r.headers.get("x-callingbox-call-id") == call.id]) or (
        got[-1].headers["callingbox-event-type"] != "call.busy"
    ):
        assert time.monotonic() < deadline, "the inline call.busy never arrived"
        time.sleep(0.1)
    kinds = [Webhooks.construct_event(r.body, r.headers["callingbox-signature"], secret).type for r in got]
    assert kinds[0] == "call.queued" and kinds[-1] == "call.busy"
    assert all(Webhook(secret).verify(r.body, r.headers) for r in got)


def test_tools_written_with_the_sdk_dsl_are_accepted_byte_for_byte(client: Callingbox) -> None:
    lookup = tool.http(
        name="lookup_booking",
        description="Find the caller's booking",
        url="https://crm.example/lookup",
        policy="confirm_first_write",
        headers={"X-Api-Key": "k"},
        timeout_ms=2500,
        parameters=tool.object(
            date=tool.string(description="ISO date"),
            party=tool.integer(),
            note=tool.string(nullable=True),
        ),
    )
    hang_up = tool.builtin(name="hang_up", builtin="end_call", description="End the call politely")
    call = client.calls.create(to=BUSY, prompt="Book", tools=[lookup, hang_up])
    sent = [lookup.to_wire(), hang_up.to_wire()]
    assert call.tools[0] == {**sent[0], "method": "POST"}
    assert call.tools[1] == {**sent[1], "config": {}}
    assert sent[0]["parameters"]["additionalProperties"] is False
    for bad, field in (
        (tool.http(name="t", description="", url="https://x.example", timeout_ms=5), "timeout_ms"),
        (tool.builtin(name="teleport", description=""), "builtin"),  # the DSL always names the built-in
        (tool.builtin(name="end_call", description="", config={"after": 3}), "config.after"),
        ({**lookup.to_wire(), "retries": 3}, "retries"),
    ):
        with pytest.raises(BadRequestError) as exc:
            client.calls.create(to=BUSY, prompt="x", tools=[bad])
        assert f"tools[0].{field}" in exc.value.message


def test_numbers_list_pages_and_the_number_object_has_every_sdk_field(client: Callingbox) -> None:
    offered = client.numbers.search_available(area_code="202", limit=3)
    bought = [client.numbers.purchase(a.phone_number) for a in offered]
    page = client.numbers.list(limit=2)
    assert [n.id for n in page] == [bought[2].id, bought[1].id] and page.has_more
    assert [n.id for n in client.numbers.iter_numbers(limit=2)][:3] == [b.id for b in bought[::-1]]
    assert [n.id for n in client.numbers.list(limit=2, ending_before=bought[0].id)] == [bought[2].id, bought[1].id]
    one = bought[0]
    assert (one.country_code, one.number_type, one.status, one.inbound_enabled) == ("US", "local", "active", False)
    assert one.purchased_at and one.inbound_voicemail_action == "hangup"
    with pytest.raises(BadRequestError) as exc:
        client.numbers.purchase("+14155559999")  # in no range a trunk offers
    assert "phone_number" in exc.value.message
    with pytest.raises(BadRequestError) as exc:
        client.numbers.search_available(number_type="satellite")
    assert "number_type" in exc.value.message


def test_webhook_endpoints_crud_rotate_and_a_real_delivery_verifies(client: Callingbox, receiver: Receiver) -> None:
    endpoint = client.webhooks.create_endpoint(receiver.url, description="crm", enabled_events=["call.busy"])
    assert endpoint.signing_secret and endpoint.signing_secret.startswith("whsec_")
    assert endpoint.id in [e.id for e in client.webhooks.list_endpoints()]
    assert client.webhooks.get_endpoint(endpoint.id).signing_secret is None
    call = client.calls.create(to=BUSY, prompt="webhook")
    delivery = wait_delivered(client, endpoint.id, call.id)
    got = [r for r in receiver.received if r.headers.get("x-callingbox-call-id") == call.id]
    assert len(got) == 1
    headers, body = got[0].headers, got[0].body
    event = Webhooks.construct_event(body, headers["callingbox-signature"], endpoint.signing_secret)
    assert event.type == "call.busy" and event.data["call"]["id"] == call.id and event.api_version == "2026-04"
    assert Webhook(endpoint.signing_secret).verify(body, headers)["id"] == event.id
    assert headers["callingbox-event-id"] == headers["webhook-id"] == delivery.id
    assert headers["callingbox-event-type"] == headers["x-callingbox-event"] == "call.busy"
    assert client.webhooks.get_delivery(delivery.id).status == "delivered"
    # Rotation: the replay (same event id) verifies with the new secret only.
    rotated = client.webhooks.rotate_secret(endpoint.id)
    assert rotated.signing_secret and rotated.signing_secret != endpoint.signing_secret
    replay = client.webhooks.redeliver(delivery.id)
    assert replay.status == "pending" and replay.manual_retry_count == 1
    deadline = time.monotonic() + 15
    while len([r for r in receiver.received if r.headers.get("x-callingbox-call-id") == call.id]) < 2:
        assert time.monotonic() < deadline, "the replay never arrived"
        time.sleep(0.1)
    again = [r for r in receiver.received if r.headers.get("x-callingbox-call-id") == call.id][1]
    assert again.headers["callingbox-event-id"] == delivery.id
    Webhooks.construct_event(again.body, again.headers["callingbox-signature"], rotated.signing_secret)
    with pytest.raises(BadRequestError):
        Webhooks.construct_event(again.body, again.headers["callingbox-signature"], endpoint.signing_secret)
    updated = client.webhooks.update_endpoint(endpoint.id, description=None, status="disabled")
    assert updated.description is None and updated.status == "disabled"
    client.webhooks.delete_endpoint(endpoint.id)
    with pytest.raises(NotFoundError):
        client.webhooks.get_endpoint(endpoint.id)


def wait_delivered(client: Callingbox, endpoint_id: str, call_id: str) -> WebhookDelivery:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = client.webhooks.list_deliveries(endpoint_id=endpoint_id, call_id=call_id, status="delivered")
        if found:
            return found[0]
        time.sleep(0.2)
    raise TimeoutError(f"no delivered webhook for call {call_id}")


def carrier_call(box: ServerProcess, to: str) -> None:
    env = {**os.environ, **box.env}
    out = subprocess.run(
        [sys.executable, "-m", "appliance.cli", "carrier", "call", "--to", to],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr


def wait_inbound(client: Callingbox, to: str, statuses: set[str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in client._request("GET", "/v1/calls", params={"direction": "inbound"})["data"]:
            if call["to_number"] == to and call["status"] in statuses:
                return call
        time.sleep(0.2)
    raise TimeoutError(f"no inbound call to {to} in {statuses}")


def test_inbound_config_answers_the_carriers_call_with_that_prompt_then_disabled_rejects(
    box: ServerProcess, client: Callingbox
) -> None:
    number = client.numbers.purchase(client.numbers.search_available(area_code="202", limit=1)[0].phone_number)
    prompt = "You are the front desk of Bright Smile Dental. Take a message."
    configured = client.numbers.update_inbound_config(
        number.id,
        enabled=True,
        prompt=prompt,
        returns={"caller_name": "string"},
        webhook_url=None,
        language="en",
        tools=[tool.builtin(name="end_call", description="hang up").to_wire()],
        voicemail_action=None,
    )
    assert configured.inbound_enabled and configured.inbound_prompt == prompt
    assert configured.inbound_returns == {"caller_name": "string"} and configured.inbound_tools[0]["name"] == "end_call"
    owner = client._request("GET", f"/v1/numbers/{number.id}")["inbound_agent_id"]
    agent = client._request("GET", f"/v1/agents/{owner}")
    assert agent["owner_number_id"] == number.id and agent["type"] == "inbound"

    carrier_call(box, number.e164)
    live = wait_inbound(client, number.e164, {"in_progress"} | TERMINAL)
    assert live["status"] == "in_progress" and live["agent_id"] == owner and live["instructions"] == prompt
    assert live["returns"] == {"caller_name": "string"}
    client._request("POST", f"/v1/calls/{live['id']}/cancel")

    off = client.numbers.update_inbound_config(
        number.id, enabled=False, prompt=prompt, returns=None, webhook_url=None, language=None, tools=None,
        voicemail_action=None,
    )  # fmt: skip
    assert not off.inbound_enabled and off.inbound_prompt == prompt and off.inbound_returns is None
    carrier_call(box, number.e164)
    rejected = wait_inbound(client, number.e164, {"failed"})
    assert rejected["error_code"] == "no_agent"
    # Enabled again: the same owned agent answers (no second agent is made).
    again = client.numbers.update_inbound_config(
        number.id, enabled=True, prompt="Again", returns=None, webhook_url=None, language=None, tools=None,
        voicemail_action="leave_message",
    )  # fmt: skip
    assert again.inbound_enabled and client._request("GET", f"/v1/numbers/{number.id}")["inbound_agent_id"] == owner
    assert again.inbound_voicemail_action == "leave_message"
    with pytest.raises(BadRequestError) as exc:
        client.numbers.update_inbound_config(
            number.id, enabled=True, prompt="x", returns={"a": "maybe"}, webhook_url=None, language=None,
            tools=None, voicemail_action=None,
        )  # fmt: skip
    assert "returns" in exc.value.message
