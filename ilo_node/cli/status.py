"""``ilo-node status``."""

from __future__ import annotations

import json
from typing import Any

import click

from ilo_node.cli.common import home_of, node_client
from ilo_node.cli.desk import officer_status

__all__ = ["status"]


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the node's log size, quarantine, forks and roster state; in an officer's home,
    the outbox (signed, not yet handed over), refused drafts and unread messages.

    \b
    Examples:
      ilo-node --home node-DE status
      ilo-node --home officer-hans status --json
    """
    if home_of(ctx).config().role == "officer":
        officer_status(ctx, as_json)
        return
    client = node_client(ctx)
    try:
        record = client.status()
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(record, indent=1))
        return
    click.echo(
        f"{record['node']} in {record['network']}: {record['log_size']} envelopes "
        f"({record['readable']} readable, {record['erased']} erased)"
    )
    click.echo(
        f"  quarantine: {record['quarantined']}; forks: {record['forks']}; "
        f"authors held: {record['authors_held']}"
    )
    for reason, n in record["quarantine_reasons"].items():
        click.echo(f"    {n} x {reason}")
    refused = record.get("counters", {}).get("quarantine_refused", {})
    if refused:
        click.echo(
            "  not kept, the quarantine being full for them (their senders retry): "
            + ", ".join(f"{n} by bound {bound}" for bound, n in sorted(refused.items()))
        )
    latest = record["latest_checkpoint"]
    click.echo(
        f"  latest checkpoint: size {latest}"
        if latest is not None
        else "  latest checkpoint: none signed yet (the running node signs one as the log grows)"
    )
    for view in record["split_views"]:
        click.echo(
            f"  SPLIT VIEW: {view['origin']} signed inconsistent checkpoints "
            f"({view['reason']}); report it to the administrators"
        )
    click.echo(f"  {record['roster']['message']}")
    restore = record.get("restore")
    if restore is not None and restore["publishing"] == "held":
        heard = ", ".join(restore["peers_confirmed"]) or "none yet"
        click.echo(
            f"  restored from a backup of {restore['backup_log_size']} envelopes: publishing as "
            f"the node is held until every peer has answered (heard from: {heard})"
        )
    transport = record.get("transport")  # only a running node says how it talks
    if transport is not None:
        click.echo(f"  transport: {_transport_line(transport)}")


def _transport_line(transport: dict[str, Any]) -> str:
    connections = transport.get("connections", {})
    open_now = f"{connections.get('open', '?')}/{connections.get('max', '?')} connections open"
    if transport.get("tls"):
        line = (
            f"{transport.get('version')} with every peer, pinned to "
            f"{transport.get('trusted_keys')} certified node keys; {open_now}"
        )
        if transport.get("plain_http"):
            line += '; "plain_http": true allows http:// peers (test networks only)'
        return line
    return f'PLAIN HTTP ("plain_http": true in daemon.json): a test network only; {open_now}'
