"""Data sets for twostage: a synthetic catalog generator (and, later, real-data adapters)."""
