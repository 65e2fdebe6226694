"""/v1/numbers (DIDs you own) and /v1/trunks (your SIP trunks)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, patch, post

from appliance.runtime import Runtime
from appliance.store import numbers as number_store
from appliance.store import trunks as trunk_store
from appliance.store.paging import check_limit
from appliance.store.records import Number, NumberList, Trunk

from .edge import ERROR_RESPONSES
from .schemas import CreateNumber, CreateTrunk, UpdateTrunk, strict_body


class NumberController(Controller):
    path = "/numbers"
    tags = ["numbers"]

    @get("/", responses=ERROR_RESPONSES)
    async def list_numbers(
        self, runtime: Runtime, limit: int = 50, starting_after: str | None = None, ending_before: str | None = None
    ) -> NumberList:
        return number_store.list_numbers(runtime.db, check_limit(limit), starting_after, ending_before)

    @post("/", responses=ERROR_RESPONSES)
    async def register_number(self, runtime: Runtime, data: CreateNumber, request: Request[Any, Any, Any]) -> Number:
        data = await strict_body(request, CreateNumber)
        number_id = number_store.register_number(runtime.db, data.e164, data.friendly_name, data.trunk_id)
        return number_store.get_number(runtime.db, number_id)

    @get("/{number_id:str}", responses=ERROR_RESPONSES)
    async def get_number(self, runtime: Runtime, number_id: str) -> Number:
        return number_store.get_number(runtime.db, number_id)

    @delete("/{number_id:str}", responses=ERROR_RESPONSES, status_code=204)
    async def release_number(self, runtime: Runtime, number_id: str) -> None:
        number_store.release_number(runtime.db, number_id)


class TrunkController(Controller):
    path = "/trunks"
    tags = ["trunks"]

    @staticmethod
    def _state(runtime: Runtime) -> trunk_store.TrunkState:
        return runtime.telephony.trunk_state() if runtime.telephony else {}

    @get("/", responses=ERROR_RESPONSES)
    async def list_trunks(self, runtime: Runtime) -> list[Trunk]:
        return trunk_store.list_trunks(runtime.db, self._state(runtime))

    @post("/", responses=ERROR_RESPONSES)
    async def create_trunk(self, runtime: Runtime, data: CreateTrunk, request: Request[Any, Any, Any]) -> Trunk:
        data = await strict_body(request, CreateTrunk)
        trunk_id = trunk_store.create_trunk(runtime.db, data.sent())
        await apply_trunks(runtime)
        return trunk_store.get_trunk(runtime.db, trunk_id, self._state(runtime))

    @get("/{trunk_id:str}", responses=ERROR_RESPONSES)
    async def get_trunk(self, runtime: Runtime, trunk_id: str) -> Trunk:
        return trunk_store.get_trunk(runtime.db, trunk_id, self._state(runtime))

    @patch("/{trunk_id:str}", responses=ERROR_RESPONSES)
    async def update_trunk(
        self, runtime: Runtime, trunk_id: str, data: UpdateTrunk, request: Request[Any, Any, Any]
    ) -> Trunk:
        data = await strict_body(request, UpdateTrunk)
        trunk_store.update_trunk(runtime.db, trunk_id, data.sent())
        await apply_trunks(runtime)
        return trunk_store.get_trunk(runtime.db, trunk_id, self._state(runtime))

    @delete("/{trunk_id:str}", responses=ERROR_RESPONSES, status_code=204)
    async def delete_trunk(self, runtime: Runtime, trunk_id: str) -> None:
        trunk_store.delete_trunk(runtime.db, trunk_id)
        await apply_trunks(runtime)


async def apply_trunks(runtime: Runtime) -> None:
    """Re-render PJSIP and reload Asterisk (calls in progress are kept)."""
    if runtime.telephony is not None:
        await runtime.telephony.trunks_changed()
