"""The assistant in service: the index version in use, rebuilt and swapped without a stop."""
