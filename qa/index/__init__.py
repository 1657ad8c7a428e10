"""Building the index: documents chunked into passages, embedded, written as a new version
beside the one in service, and switched in atomically."""
