"""Identities, key store, roster and trust decisions."""
