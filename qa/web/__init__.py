"""The web layer: the FastAPI app, its JSON API and pages, and the models of its answers.
Thin: it parses input, calls the service and shapes the output."""
