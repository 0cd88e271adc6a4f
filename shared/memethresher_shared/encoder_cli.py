"""`memethresher encoder switch ID | cancel | status`: the Models page's encoder switch, from a shell."""

from __future__ import annotations

from typing import Any

import click

from memethresher_shared import db, encoder_switch
from memethresher_shared.encoder_state import SwitchRefused
from memethresher_shared.settings import get_settings


@click.group()
def encoder() -> None:
    """Switch encoders blue/green: the active one serves until the new one's model is at least as good."""


@encoder.command("switch")
@click.argument("encoder_id")
def switch_command(encoder_id: str) -> None:
    """Make ENCODER_ID (a registry id, see `encoder status`) pending and have it embedded."""
    settings = get_settings()
    try:
        with db.session_scope() as session:
            started, batches = encoder_switch.start(session, encoder_id, settings, queue=bool(settings.broker_url))
            click.echo(f"switching {started.previous} → {started.encoder}: {started.total} memes to cover")
    except (SwitchRefused, ValueError) as refused:
        raise click.ClickException(str(refused)) from None
    if settings.broker_url:
        click.echo(f"{batches} embed batches queued")
    else:
        click.echo("the embedders pick it up as MemeThresher starts (`memethresher up`)")


@encoder.command("cancel")
def cancel_command() -> None:
    """Stop the pending switch; the active encoder and its model stay as they are."""
    try:
        with db.session_scope() as session:
            cancelled = encoder_switch.cancel(session, "cancelled from the command line")
            click.echo(f"switch to {cancelled.encoder} cancelled; {cancelled.previous} stays active")
    except SwitchRefused as refused:
        raise click.ClickException(str(refused)) from None


@encoder.command("status")
def status_command() -> None:
    """The active encoder, the pending switch with its progress, the last finished one and the registry."""
    with db.session_scope() as session:
        state = encoder_switch.describe(session, get_settings())
    click.echo(f"active: {state['active']}")
    pending = state["pending"]
    if pending is not None:
        click.echo(f"pending: {pending['encoder']} ({pending['status']}), {progress_line(pending)}")
    last = state["last"]
    if last is not None:
        why = f": {last['reason']}" if last["reason"] else ""
        click.echo(f"last switch: {last['previous']} → {last['encoder']} {last['status']}{why}")
    for entry in state["encoders"]:
        click.echo(f"  {entry['id']}  {entry['description']}")


def progress_line(pending: dict[str, Any]) -> str:
    eta = pending["eta_s"]
    left = "ETA unknown" if eta is None else f"about {round(eta)} s left"
    return f"{pending['embedded']} of {pending['total']} embedded, {left}"
