"""The one exception type the CLI turns into a one-line error and a non-zero exit."""


class PerfmodelError(Exception):
    """A problem with the user's input (file, model, spec, option), reported without a traceback."""
