"""The one exception type that user-facing code turns into a one-line error."""


class DeepDreamError(Exception):
    """A problem with the user's input: the message names it and says how to fix it.

    The CLI prints ``deepdream: error: <message>`` and exits non-zero, without a traceback.
    """
