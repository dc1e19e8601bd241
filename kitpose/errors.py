"""The base of kitpose's own error types: input a user can fix.

ConfigError, CheckpointError, AnnotationError and the others derive from UserInputError; their
messages name the file, field or shape and say what to do. `kitpose` (kitpose/cli.py) turns any of
them into one `Error: ...` line with exit code 2, so none reaches a user as a traceback. Anything
else that escapes is a bug and keeps its traceback.
"""
from __future__ import annotations


class UserInputError(ValueError):
    """A file, field or flag that cannot be used; the message names it and says what to do."""


__all__ = ["UserInputError"]
