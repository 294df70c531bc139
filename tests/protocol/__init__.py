"""Tests of ``protocol``."""
