"""The running node: storage, log, gossip, local API, report, CLI."""

__version__ = "0.1.0"
