"""The self-hosted Pictograph service: REST API, database, blob store and workers."""
