"""A backend whose library is not installed, for the registry's availability test."""

import ghost_ann_library_that_does_not_exist  # noqa: F401

GhostIndex = None
