"""The timeline: the archive's dated events, oldest first, each with every source that tells it."""
