"""Formats people and files use around the protocol: times, JSON content, key text,
length-prefixed frames."""
