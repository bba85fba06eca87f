"""Serving: the JSON API around one engine, its per-data-set contract, the pre-forked server,
its metrics, and a local redis-server for shared live state."""
