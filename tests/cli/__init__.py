"""Tests of ``ilo_node.cli``."""
