"""Errors a user can act on.

Everything raised as a `GenzooError` is shown by the CLI as one line and exit code 2;
anything else is a bug and keeps its traceback.
"""


class GenzooError(Exception):
    """A problem with the user's input or environment, explained in one line."""


def did_you_mean(name: str, known) -> str:
    """ " (did you mean 'x'?)" for the known name closest to a misspelt one, else "": case
    and '_' / '-' are ignored first (NADE, wgan_gp), then difflib finds near spellings."""
    import difflib

    def norm(s: str) -> str:
        return str(s).lower().replace("_", "-")

    known = list(known)
    same = [k for k in known if norm(k) == norm(name)]
    close = same or difflib.get_close_matches(norm(name), [norm(k) for k in known], n=1)
    if not close:
        return ""
    match = same[0] if same else next(k for k in known if norm(k) == close[0])
    return f" (did you mean {match!r}?)"


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
