"""ilo-node protocol core: pure functions over bytes (no I/O, the clock passed in).

See docs/protocol.md for the byte-level specification.
"""

PROTOCOL_VERSION = 2
