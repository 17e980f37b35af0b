"""The one error type a user can cause."""


class CineGANError(ValueError):
    """A problem with the user's input or setup, with a message a person can act on.

    The command line prints it on one line and exits with status 2; the web app
    shows it with ``gr.Error``. Anything else escaping the core is a bug.
    """
