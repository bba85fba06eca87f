"""Stage 1: retrieval paths, their merge into one candidate set, and candidate recall."""
