"""Evaluation: retrieval and answers scored on SQuAD files, the date finder on labelled
sentences."""
