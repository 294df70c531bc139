"""Tests of ``ilo_node.node``."""
