"""A node home on disk: its configuration, key files, trust documents and bundles, and
what administrators and authorities do in their homes (identities, rosters, certificates)."""
