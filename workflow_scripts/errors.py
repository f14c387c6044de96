"""Errors every layer may raise: the bottom of the import graph (imports nothing of ours)."""


class ConfigError(ValueError):
    """A configuration value that cannot be honoured; the message names the key."""
