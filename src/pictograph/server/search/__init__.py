"""Search: image embeddings and auto-tags made in the background, the vector index, queries."""
