"""Errors a user can act on.

Everything raised as a `GenzooError` is shown by the CLI as one line and exit code 2;
anything else is a bug and keeps its traceback.
"""


class GenzooError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class UnknownNameError(GenzooError, KeyError):
    """An unknown model, dataset or config key."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(GenzooError):
    """A data file is missing, corrupt, truncated or of the wrong shape."""


class CheckpointError(GenzooError):
    """A run directory or checkpoint that genzoo did not write, or that is damaged."""


class TrainingDiverged(GenzooError):
    """The loss became NaN or infinite."""
