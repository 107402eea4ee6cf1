"""The write path: loading, cleaning, deduplicating, chunking, embedding and storing news."""
