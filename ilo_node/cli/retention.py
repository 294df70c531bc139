"""``ilo-node retention``."""

from __future__ import annotations

import click

from ilo_node.cli.common import emit, home_of, json_option, node_client
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.home import now_ms

__all__ = ["retention"]


@click.group()
def retention() -> None:
    """Erase decrypted content past its retention period (crypto-shredding).

    Run in a node's home; HOME/retention.json sets the periods. See
    'ilo-node retention run --help' for its examples.
    """


@retention.command("run")
@click.option("--now", "now_text", default="now", help="Pretend it is this time (for drills).")
@json_option
@click.pass_context
def retention_run(ctx: click.Context, now_text: str, as_json: bool) -> None:
    """Erase expired content now (the envelope and its log entry stay).

    Periods in days come from HOME/retention.json, e.g. {"incident_alert": 30,
    "H3": 90, "default": 730}; without the file everything is kept 730 days.
    The erasure is real, with --now too: drill on a copy of a home.

    \b
    Examples:
      ilo-node --home node-DE retention run
      ilo-node --home drill/node-DE retention run --now 2027-06-01
      ilo-node --home node-DE retention run --json
    """
    policy = home_of(ctx).retention_policy()
    when = parse_time(now_text, now_ms())
    client = node_client(ctx)
    try:
        erased = client.apply_retention(policy, when)
    finally:
        client.close()
    emit(
        {"erased": erased, "now": format_ms(when), "policy": policy},
        as_json,
        f"erased the content of {erased} envelope(s) past their retention period at "
        f"{format_ms(when)}; the envelopes and their log entries stay ('ilo-node log verify' "
        "checks the log)",
    )
