"""ilo-node's tests, in folders that mirror the packages (see README.md)."""
