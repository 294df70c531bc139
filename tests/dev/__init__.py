"""Tests of ``ilo_node.dev``."""
