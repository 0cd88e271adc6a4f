"""Encoder switch, blue/green: list the registry, switch to another encoder, cancel, follow the progress."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from memethresher_shared import encoder_switch
from memethresher_shared.encoder_state import SwitchRefused
from pydantic import BaseModel, Field

from memethresher_api.deps import SessionDep, SettingsDep, field_error
from memethresher_api.errors import Conflict

router = APIRouter(prefix="/api/encoders", tags=["encoders"])
log = logging.getLogger(__name__)


class SwitchIn(BaseModel):
    encoder: str = Field(min_length=1, max_length=128, description='a registry id, e.g. "tiny-siglip:random"')


@router.get("", response_model=dict[str, Any])
def encoders(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The registry, the active encoder, the pending switch (embedded n of N, ETA) and the last finished one."""
    return encoder_switch.describe(session, settings)


@router.post("/switch", status_code=202, response_model=dict[str, Any])
def switch(body: SwitchIn, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Make `encoder` pending: it is embedded in the background while the active one keeps serving."""
    try:
        started, batches = encoder_switch.start(session, body.encoder, settings)
    except SwitchRefused as refused:
        raise Conflict(str(refused)) from None
    except ValueError as unknown:  # not in the registry
        field_error("body", "encoder", str(unknown))
    except Exception as error:  # the switch is stored; the embedders' sweep queues what could not be sent
        log.warning("switch stored, but its embed batches could not be queued", exc_info=True)
        return encoder_switch.describe(session, settings) | {"queued": 0, "detail": f"broker: {error}"}
    log.info("encoder switch %d to %s: %d embed batches queued", started.id, started.encoder, batches)
    return encoder_switch.describe(session, settings) | {"queued": batches}


@router.post("/cancel", response_model=dict[str, Any])
def cancel(session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """Stop the pending switch; the active encoder, its model and every rating stay as they are."""
    try:
        encoder_switch.cancel(session, "cancelled by the user")
    except SwitchRefused as refused:
        raise Conflict(str(refused)) from None
    return encoder_switch.describe(session, settings)
