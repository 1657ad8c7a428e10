"""The core every stage shares: the settings, the typed errors and the small result types."""
