"""The project's exception base.

Every error the project raises on purpose derives from it, so a command can tell a known
failure (one clear line, exit 2) from a bug (a traceback).
"""


class SocialcareError(Exception):
    """A failure the project raises on purpose; its message says what to do."""
