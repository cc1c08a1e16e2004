"""The one base class for errors a user should see: bad input, an unknown id, a model not trained yet.

Every layer raises a subclass (``ToolError``, ``IngestError``, ``ArtifactMissing``, ``AgentInputError``), and
each front end turns any :class:`UserError` into its own clear answer in one place: a tool error the agent
reports, an HTTP 4xx, a CLI message. Anything else is a bug, and shows as one.

    >>> issubclass(UserError, ValueError)
    True

What it leaves out: error codes (the message is the contract).
"""

__all__ = ["UserError"]


class UserError(ValueError):
    """Something the user can fix; its message says what."""
