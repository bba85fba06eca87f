"""The Textual app (`twostage demo`): both stages of a request on one screen, live."""
