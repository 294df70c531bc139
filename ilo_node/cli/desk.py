"""The officer's commands, run in an officer's home: ``publish`` (its officer half),
``inbox``, ``show``, ``search``, ``retract``, ``correct`` and ``status`` (its officer half).

Each parses options, calls :class:`~ilo_node.client.officer.OfficerClient` and
prints; what is printed is derived from the checked message
(:mod:`ilo_node.client.messageview`). Exit codes: 0 done, 1 error, 2 usage,
3 an id not found, 4 the node unreachable (what was signed waits in the outbox).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from ilo_node.cli.common import home_of, passphrase_for
from ilo_node.cli.prompts import confirm_send, interactive, prompt_missing
from ilo_node.cli.tables import print_table, styled
from ilo_node.client.messageview import (
    content_lines,
    inbox_row,
    message_json,
    message_lines,
)
from ilo_node.client.officer import MessageFilter, OfficerClient, PublishOutcome, PublishRequest
from ilo_node.client.reading import ReadMessage
from ilo_node.errors import ClientError, InputError, NodeUnreachableError
from ilo_node.formats.fieldinput import apply_settings
from ilo_node.formats.jsoncontent import content_from_file, content_to_json
from ilo_node.formats.personal import personal_removed
from ilo_node.formats.timefmt import format_ms, parse_time
from ilo_node.home.home import now_ms
from protocol.envelope import REFERENCE_KINDS
from protocol.errors import IloError, ProtocolError, UsageError
from protocol.evaluation import (
    ACCURACY_FIELD,
    INFORMATION_ACCURACY,
    SOURCE_FIELD,
    SOURCE_RELIABILITY,
)
from protocol.examples import example
from protocol.kinds import KINDS, kind_spec

__all__ = [
    "PUBLIC_KINDS",
    "assemble_content",
    "correct",
    "inbox",
    "officer_client",
    "officer_publish",
    "officer_status",
    "retract",
    "search",
    "show",
]

#: What a person publishes directly (a retraction through retract, key shares by the node).
PUBLIC_KINDS = sorted(k for k in KINDS if k not in REFERENCE_KINDS)


def officer_client(ctx: click.Context) -> OfficerClient:
    """The officer of --home, reaching their node over TLS (a test passes
    ``obj={"officer_transport": ...}`` to replace the network)."""
    home = home_of(ctx)
    config = home.require_role("officer")
    passphrase = passphrase_for(ctx, f"the key of officer {config.name}")
    return OfficerClient(home, passphrase, transport=ctx.obj.get("officer_transport"))


def assemble_content(
    kind: str,
    content_file: Path | None,
    settings: Sequence[str],
    *,
    use_example: bool = False,
    base: dict[str, Any] | None = None,
    ask_optional: bool = False,
) -> dict[str, Any]:
    """The content from ``--file`` (or the example, or ``base``), ``--set`` applied on
    top, then whatever is still missing asked for at a terminal."""
    if use_example and content_file is not None:
        raise UsageError("give --file or --example, not both")
    start: Any
    if content_file is not None:
        start = content_from_file(content_file)
    elif use_example:
        start = example(kind)
    else:
        start = base or {}
    content = prompt_missing(
        kind, apply_settings(kind, start, settings), include_optional=ask_optional
    )
    try:
        return kind_spec(kind).validate(content)
    except ProtocolError as exc:
        # The officer's own input, not a peer's: say how to correct it.
        raise InputError(
            exc.message,
            f"Correct the field and run the command again; 'ilo-node template {kind}' "
            "lists every field with its rule and an example.",
        ) from None


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True))


# -- publish -------------------------------------------------------------------------------


def _who_lines(outcome: PublishOutcome) -> list[str]:
    lines = [f"  readable by: {', '.join(outcome.readable_by)}"]
    if outcome.awaiting:
        lines.append(
            f"  not yet:     {', '.join(outcome.awaiting)} (no prekey yet; their node is "
            "given the key when it arrives)"
        )
    return lines


def _report(outcome: PublishOutcome, verb: str, as_json: bool) -> None:
    """Print what happened to a signed envelope; never 'published' when nothing was sent."""
    if as_json:
        _emit(outcome.to_json())
    else:
        short = outcome.envelope_id.hex()[:16] if outcome.envelope_id else "?"
        status = outcome.delivery.status if outcome.delivery else "waiting"
        if outcome.sent:
            extra = " (waits at the node for what it refers to)" if status == "quarantined" else ""
            click.echo(f"{verb} {outcome.kind} {short} (seq {outcome.seq}){extra}")
            click.echo("\n".join(_who_lines(outcome)))
        for other in outcome.others:
            if other.status != "waiting":
                click.echo(
                    f"  also handed over from the outbox: {other.envelope_id.hex()[:16]} "
                    f"{other.reason or other.status}"
                )
    if outcome.sent:
        return
    delivery = outcome.delivery
    if delivery is not None and delivery.status == "waiting":
        raise NodeUnreachableError(
            f"NOT SENT: {outcome.kind} {delivery.envelope_id.hex()[:16]} is signed and kept "
            f"in your outbox ({delivery.reason})",
            "It is handed over by your next command once the node answers; 'ilo-node status' "
            "shows the outbox.",
        )
    raise ClientError(
        f"the node refused {outcome.kind}: {delivery.reason if delivery else 'no answer'}",
        "Nothing was published. Your text is kept in the refused/ folder of your home; "
        "correct what the reason names and publish again.",
    )


def _dry_run(outcome: PublishOutcome, content: dict[str, Any], as_json: bool) -> None:
    if as_json:
        shown, withheld = personal_removed(outcome.kind, content)
        _emit(
            {
                **outcome.to_json(),
                "content": content_to_json(shown),
                "personal_withheld": withheld,
            }
        )
        return
    click.echo(
        f"dry run: {outcome.kind}, level {outcome.level}, handling {outcome.handling}; "
        "nothing signed or sent"
    )
    click.echo("\n".join(_who_lines(outcome)))
    click.echo("\n".join(content_lines(outcome.kind, content)))


def officer_publish(
    ctx: click.Context,
    kind: str,
    gather: Callable[[], dict[str, Any]],
    request: PublishRequest,
    *,
    confirm: bool,
    as_json: bool,
) -> None:
    """Unlock the officer's key first, then gather the content (perhaps typed at the
    terminal): what was typed is never lost, kept in ``HOME/drafts/`` if it cannot
    be sent."""
    client = officer_client(ctx)
    try:
        content = gather()
        typed = interactive()
        try:
            outcome = _publish_gathered(client, replace(request, content=content), confirm, as_json)
        except IloError:
            if typed and not request.dry_run:
                path = client.outbox.keep_draft(kind, content, now_ms())
                click.echo(
                    f"your text is kept in {path}; publish it later with "
                    f"'ilo-node publish {kind} --file {path}'",
                    err=True,
                )
            raise
    finally:
        client.close()
    if outcome is None:
        return
    if request.dry_run:
        _dry_run(outcome, content, as_json)
        return
    _report(outcome, "published", as_json)


def _publish_gathered(
    client: OfficerClient, request: PublishRequest, confirm: bool, as_json: bool
) -> PublishOutcome | None:
    if confirm and interactive() and not as_json and not request.dry_run:
        preview = client.publish(replace(request, dry_run=True))
        summary = "\n".join(
            [
                f"{request.kind} as {client.officer} ({client.node}), level {request.level}, "
                f"handling {request.handling}",
                *_who_lines(preview),
            ]
        )
        if not confirm_send(summary):
            click.echo("not sent; nothing was signed")
            return None
    return client.publish(request)


# -- reading -------------------------------------------------------------------------------


def _filters(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--kind",
            "kinds",
            multiple=True,
            type=click.Choice(sorted(KINDS)),
            help="Only this kind (repeatable).",
        ),
        click.option(
            "--host",
            "hosts",
            multiple=True,
            metavar="CC",
            help="Only from postings in this host country, e.g. TR (repeatable).",
        ),
        click.option(
            "--state",
            "parties",
            multiple=True,
            metavar="MS",
            help="Only by authors of this Member State or party, e.g. FR.",
        ),
        click.option(
            "--officer",
            "officers",
            multiple=True,
            metavar="NAME",
            help="Only by this officer (repeatable).",
        ),
        click.option("--since", help="Written at or after: a date, an ISO time or 'now'."),
        click.option("--until", help="Written before: a date, an ISO time or 'now'."),
        click.option(
            "--reliability",
            "reliabilities",
            multiple=True,
            type=click.Choice(sorted(SOURCE_RELIABILITY)),
            help="Only alerts whose source was graded so, A B C or X (repeatable).",
        ),
        click.option(
            "--accuracy",
            "accuracies",
            multiple=True,
            type=click.Choice([str(g) for g in sorted(INFORMATION_ACCURACY)]),
            help="Only alerts whose information was graded so, 1 to 4 (repeatable).",
        ),
        click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True),
        click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts."),
        click.option(
            "--include-personal",
            is_flag=True,
            help="With --json: keep the fields marked personal (left out otherwise).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _graded(messages: Sequence[ReadMessage], values: dict[str, Any]) -> list[ReadMessage]:
    """Those whose evaluation codes are among the grades asked for (checked here, on the
    content as the author signed it)."""
    sources, accuracies = set(values["reliabilities"]), {int(a) for a in values["accuracies"]}
    return [
        m
        for m in messages
        if (not sources or (m.content or {}).get(SOURCE_FIELD) in sources)
        and (not accuracies or (m.content or {}).get(ACCURACY_FIELD) in accuracies)
    ]


def _message_filter(values: dict[str, Any], **extra: Any) -> MessageFilter:
    now = now_ms()
    return MessageFilter(
        kinds=tuple(values["kinds"]),
        hosts=tuple(h.upper() for h in values["hosts"]),
        parties=tuple(p.upper() for p in values["parties"]),
        officers=tuple(values["officers"]),
        since_ms=None if values["since"] is None else parse_time(values["since"], now),
        until_ms=None if values["until"] is None else parse_time(values["until"], now),
        limit=values["limit"],
        **extra,
    )


def _print_messages(
    messages: Sequence[ReadMessage],
    as_json: bool,
    include_personal: bool,
    empty: str,
    me: tuple[str, str] | None = None,
) -> None:
    if as_json:
        _emit([message_json(m, include_personal=include_personal) for m in messages])
        return
    rows = [inbox_row(m, me) for m in messages]
    print_table(
        ("id", "written", "kind", "author", "host", "state", "title"),
        [(r.short_id, r.when, r.kind, r.author, r.host, r.state, r.title) for r in rows],
        empty=empty,
    )


@click.command()
@_filters
@click.option("--all", "show_all", is_flag=True, help="Read messages too, not only the unread.")
@click.option("--mark-read", is_flag=True, help="Mark what is listed as read.")
@click.option("--mine", is_flag=True, help="What you wrote yourself, instead of what reached you.")
@click.option("--follow", is_flag=True, help="Keep listing new arrivals until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    default=5.0,
    show_default=True,
    help="Seconds between checks with --follow.",
)
@click.pass_context
def inbox(
    ctx: click.Context,
    /,
    show_all: bool,
    mark_read: bool,
    mine: bool,
    follow: bool,
    interval: float,
    **values: Any,
) -> None:
    """List what reached you since you last read, newest first (--all: read ones too;
    --mine: what you wrote).

    \b
    Examples:
      ilo-node --home officer-hans inbox
      ilo-node inbox --kind forged_document_alert --since 2026-11-01 --all --json
      ilo-node inbox --follow --state FR
    """
    as_json, include_personal = values.pop("as_json"), values.pop("include_personal")
    client = officer_client(ctx)
    me = (client.node, client.officer)
    if mine:
        if values["officers"]:
            client.close()
            raise UsageError("--mine and --officer select the author twice; give one")
        values["officers"] = (client.officer,)
        query = _message_filter(values, unread_only=False, others_only=False)
    else:
        query = _message_filter(values, unread_only=not show_all, others_only=True)
    try:
        messages = _graded(client.messages(query), values)
        if mine:  # the officer filter is by name: keep this officer's, at this node
            messages = [m for m in messages if m.header.author_node == client.node]
        if mark_read:
            client.mark_read([m.envelope_id for m in messages])
        if not follow:
            _print_messages(
                messages,
                as_json,
                include_personal,
                "nothing new" if not (show_all or mine) else "no messages",
                me,
            )
            return
        _follow(
            lambda: _graded(client.messages(query), values),
            messages,
            as_json,
            include_personal,
            interval,
        )
    finally:
        client.close()


def _follow(
    fetch: Callable[[], list[ReadMessage]],
    first: Sequence[ReadMessage],
    as_json: bool,
    include_personal: bool,
    interval: float,
) -> None:
    """Print each message once, as it arrives: one JSON object a line with --json."""
    seen: set[bytes] = set()

    def out(messages: Sequence[ReadMessage]) -> None:
        fresh = [m for m in reversed(messages) if m.envelope_id not in seen]
        for m in fresh:
            seen.add(m.envelope_id)
            if as_json:
                click.echo(
                    json.dumps(
                        message_json(m, include_personal=include_personal),
                        ensure_ascii=False,
                        sort_keys=True,
                    )
                )
            else:
                r = inbox_row(m)
                click.echo(
                    "  ".join(
                        (
                            r.short_id,
                            r.when,
                            r.kind,
                            r.author,
                            r.host,
                            styled(r.state, "green"),
                            r.title,
                        )
                    ).rstrip()
                )

    out(first)
    if not as_json:
        click.echo(f"-- waiting for new messages (every {interval:g} s; Ctrl-C to stop)", err=True)
    try:
        while True:
            time.sleep(interval)
            try:
                out(fetch())
            except NodeUnreachableError as exc:
                click.echo(f"-- {exc.message}; trying again", err=True)
    except KeyboardInterrupt:
        return


@click.command()
@click.argument("message_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for scripts.")
@click.option(
    "--include-personal",
    is_flag=True,
    help="With --json: keep the fields marked personal (left out otherwise).",
)
@click.option("--keep-unread", is_flag=True, help="Do not mark it as read.")
@click.pass_context
def show(
    ctx: click.Context, message_id: str, as_json: bool, include_personal: bool, keep_unread: bool
) -> None:
    """Show one message in full: content, author and signature, readers, log position.

    ID is the full id or its first 8 or more hex digits.

    \b
    Examples:
      ilo-node --home officer-hans show 3f9a1c0e
      ilo-node show 3f9a1c0e2b7d45aa --json --keep-unread
    """
    client = officer_client(ctx)
    try:
        message = client.show(message_id, mark_read=not keep_unread)
    finally:
        client.close()
    if as_json:
        _emit(message_json(message, include_personal=include_personal))
        return
    click.echo("\n".join(message_lines(message)))


@click.command()
@click.argument("query")
@_filters
@click.pass_context
def search(ctx: click.Context, /, query: str, **values: Any) -> None:
    """Search the content you can read: words, "a phrase", field:word, prefix*.

    \b
    Examples:
      ilo-node --home officer-hans search "forged visa"
      ilo-node search 'issuing_country:IT' --kind forged_document_alert
      ilo-node search 'smuggl*' --since 2026-07-01 --json
    """
    as_json, include_personal = values.pop("as_json"), values.pop("include_personal")
    client = officer_client(ctx)
    me = (client.node, client.officer)
    try:
        messages = _graded(client.messages(_message_filter(values, text=query)), values)
    finally:
        client.close()
    _print_messages(messages, as_json, include_personal, "no message matches", me)


# -- retract and correct ---------------------------------------------------------------------


@click.command()
@click.argument("message_id", metavar="ID")
@click.option("--reason", required=True, help="Why, for every reader (no personal data).")
@click.option("--dry-run", is_flag=True, help="Say who would be told; sign and send nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def retract(ctx: click.Context, message_id: str, reason: str, dry_run: bool, as_json: bool) -> None:
    """Retract a message you wrote: every reader sees it as retracted, with your reason.

    \b
    Examples:
      ilo-node --home officer-hans retract 3f9a1c0e \\
          --reason "sent to the wrong network"
      ilo-node retract 3f9a1c0e --reason "duplicate of 7b2d90aa" --dry-run
    """
    client = officer_client(ctx)
    try:
        outcome = client.retract(message_id, reason, dry_run=dry_run)
    finally:
        client.close()
    if dry_run:
        _dry_run(outcome, {"reason": reason}, as_json)
        return
    target = outcome.refers_to[1].hex()[:16] if outcome.refers_to else message_id
    _report(outcome, f"retracted {target}: sent", as_json)


@click.command()
@click.argument("message_id", metavar="ID")
@click.option(
    "--file",
    "content_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The corrected content as JSON (without it: the original's, --set applied).",
)
@click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Change one field (repeatable), e.g. --set issuing_country=IT.",
)
@click.option("--dry-run", is_flag=True, help="Show the correction; sign and send nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def correct(
    ctx: click.Context,
    message_id: str,
    content_file: Path | None,
    settings: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Publish a corrected version of a message you wrote; the original shows as corrected.

    \b
    Examples:
      ilo-node --home officer-hans correct 3f9a1c0e --set issuing_country=IT
      ilo-node correct 3f9a1c0e --file fixed.json --dry-run
    """
    if content_file is None and not settings:
        raise UsageError("give the corrected content with --file or change fields with --set")
    client = officer_client(ctx)
    try:
        original = client.show(message_id, mark_read=False)
        if original.content is None:
            raise ClientError(f"the original cannot be read here: {original.problem}")
        content = assemble_content(
            original.header.kind, content_file, settings, base=original.content
        )
        outcome = client.correct(message_id, content, dry_run=dry_run)
    finally:
        client.close()
    if dry_run:
        _dry_run(outcome, content, as_json)
        return
    target = outcome.refers_to[1].hex()[:16] if outcome.refers_to else message_id
    _report(outcome, f"corrected {target}: sent", as_json)


# -- status -------------------------------------------------------------------------------------


def officer_status(ctx: click.Context, as_json: bool) -> None:
    client = officer_client(ctx)
    try:
        record = client.status()
    finally:
        client.close()
    if as_json:
        _emit(record)
        return
    click.echo(f"officer {record['officer']} at {record['node']} (key {record['key'][:16]}…)")
    if record["node_reachable"]:
        roster = record["roster"] or {}
        click.echo(f"  node: reachable; {record['unread']} unread; {roster.get('message', '')}")
    else:
        label = "NOT REACHABLE" if record["node_state"] == "unreachable" else "REFUSES YOU"
        click.echo(f"  node: {label} ({record['node_problem']})")
    for item in record["handed_over"]:
        click.echo(f"  handed over now: {item['id'][:16]} {item['reason'] or item['status']}")
    outbox = record["outbox"]
    click.echo(f"  outbox: {len(outbox)} waiting" + (":" if outbox else " (all handed over)"))
    for item in outbox:
        awaiting = (
            f"; no prekey yet for {', '.join(item['awaiting_prekey'])}"
            if item["awaiting_prekey"]
            else ""
        )
        click.echo(
            f"    {item['id'][:16]} {item['kind']} seq {item['seq']} signed "
            f"{format_ms(item['created_ms'])}{awaiting}"
        )
    for path in record["refused"]:
        click.echo(f"  refused by the node, kept for you: {path}")
