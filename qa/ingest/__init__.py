"""Reading the archive: the corpus scanned, each file read by its format, its metadata bounded."""
