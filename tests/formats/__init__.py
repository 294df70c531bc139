"""Tests of ``ilo_node.formats``."""
