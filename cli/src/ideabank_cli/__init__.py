"""The ``ideabank`` command line: a client of the platform, never part of a service."""
