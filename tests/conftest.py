"""Shared by every test folder.

``tests`` is a package (every folder has an ``__init__.py``), so pytest's default
("prepend") import mode puts the repository root on ``sys.path``: the tests import their
helpers as ``tests.support.*`` with plain ``python -m pytest``, under xdist, and in mypy
alike, and the packages under test come from the checkout.
"""
