"""Memory technologies: one module per technology, registered by `kind`."""
