"""Tests of ``keys``."""
