"""Search: a query checked, its dense and lexical candidates found and fused into hits."""
