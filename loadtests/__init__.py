"""Locust load tests of the engine, in-process and over HTTP, that fail when the budget is missed."""
