"""Tests of ``ilo_node.home``."""
