"""The one error type a user can cause."""


class CineGANError(ValueError):
    """A problem with the user's input or setup, with a message a person can act on.

    The command line prints it on one line and exits with status 2; the web app
    shows it with ``gr.Error``. Anything else escaping the core is a bug.
    """


def one_line(e: BaseException) -> str:
    """An error as one line for a report (a batch manifest, a log): a CineGANError's own
    message, anything else prefixed with its type's name; whitespace collapsed."""
    text = " ".join(str(e).split())
    if isinstance(e, CineGANError):
        return text or "error"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
