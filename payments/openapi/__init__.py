"""OpenAPI building blocks for payments/api_schema.py: extensions, request and answer schemas."""
