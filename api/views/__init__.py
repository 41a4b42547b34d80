"""API endpoints, one module per resource (thin: parse with a serializer, call the same
service or selector as the site's pages, answer with a serializer)."""
