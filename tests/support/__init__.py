"""Helpers shared by the tests of every folder (imported as ``tests.support.*``)."""
