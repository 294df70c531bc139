"""Test vectors pinning the wire format; regenerate with ``python -m protocol.vectors.generate``."""
