"""Exception types whose messages a user can act on."""


class SourceError(RuntimeError):
    """The telemetry store cannot be reached or refused a query."""


class InputError(ValueError):
    """A file or value given by the user is invalid; the message names what and where."""


class SpecError(ValueError):
    """An SLO or scenario specification is invalid; the message names the item and field."""
