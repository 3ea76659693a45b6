"""OpenAPI building blocks for payments/api/schema.py: extensions, request and answer schemas."""
