"""A tiny command that completes a kind's content at the terminal: what the pty tests run.

``python -m tests.support.promptdriver fill KIND [--set PATH=VALUE]... [--optional]``
applies the settings, asks for what is missing (``prompt_missing``) and prints one line
``content: <JSON>`` (bytes as ``{"$bytes": hex}``, keys sorted). It runs under the CLI's
own group class, so errors, Ctrl-C and Ctrl-D end it exactly as they end ``ilo-node``.
"""

from __future__ import annotations

import json

import click

from ilo_node.cli.app import IloGroup
from ilo_node.cli.prompts import prompt_missing
from ilo_node.formats.fieldinput import apply_settings
from ilo_node.formats.jsoncontent import content_to_json

__all__ = ["driver"]


@click.group(cls=IloGroup)
def driver() -> None:
    """Field input, for the tests."""


@driver.command()
@click.argument("kind")
@click.option("--set", "settings", multiple=True)
@click.option("--optional", is_flag=True, help="Ask for optional fields too.")
def fill(kind: str, settings: tuple[str, ...], optional: bool) -> None:
    content = apply_settings(kind, {}, settings)
    content = prompt_missing(kind, content, include_optional=optional)
    click.echo("content: " + json.dumps(content_to_json(content), sort_keys=True))


if __name__ == "__main__":
    driver.main(prog_name="promptdriver")
