"""Tests of ``ilo_node.net``."""
