"""Errors the engine raises; each message says what failed and what to do."""


class EngineError(RuntimeError):
    """Base of every error a user of the engine can act on."""


class ContextWindowExceededError(EngineError):
    """The prompt plus the requested new tokens do not fit the model's context window."""


class CheckpointError(EngineError):
    """A checkpoint is missing a file, has an unknown architecture or an unreadable tensor."""


class BackendUnavailableError(EngineError):
    """A server backend could not be reached or kept failing after retries."""


class BackendResponseError(EngineError):
    """A server backend answered something that is not a valid completion."""


class DeviceMemoryError(EngineError):
    """A request (or the static KV cache it needs) does not fit the GPU's free memory."""
