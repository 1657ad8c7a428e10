"""Language-aware text handling: which language a text is in, its lexical terms, its sentences.

Everything here follows the language of the text it touches: sentence boundaries
(sentencex's per-language abbreviation rules), stop words and Snowball stemming.
Accents are folded before stemming on both the document and the question side, so a
question typed without accents ("movilizacion") meets the accented text.
"""
