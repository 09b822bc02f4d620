"""Launchers: the ``sora-nb`` command, the demo and the studio app."""
