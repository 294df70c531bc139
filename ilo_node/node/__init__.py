"""The node core: ingest, the Merkle log, trust documents, witnessing records, queries,
retention, storage and the audit. Everything here runs on the thread that owns the node."""
