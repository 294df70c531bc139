"""For developers and demonstrations: scratch networks of homes, real node processes,
``ilo-node devnet`` and ``ilo-node demo``."""
