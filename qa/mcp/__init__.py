"""The archive as tools for AI assistants, over the Model Context Protocol: search, ask,
read_document and timeline (`tools.py`), run over stdio by `qa mcp` and mounted at /mcp of
the web app by `qa serve` (`http.py`). Like the web layer it only parses input, calls the
service and shapes the output, with the JSON API's own models."""
