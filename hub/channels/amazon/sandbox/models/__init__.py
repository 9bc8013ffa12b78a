"""The published SP-API models (Swagger 2.0) and listings-feed JSON Schemas the sandbox follows."""
