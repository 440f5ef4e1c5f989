"""Exception types, and ``one_line`` for any error text. The CLI turns each error into one line on
stderr and an exit status."""

from __future__ import annotations


class LivedetError(Exception):
    """Base class. The message must name the bad value and say how to fix it."""

    exit_code = 1


class UsageError(LivedetError):
    """A bad command line or input file: nothing was processed (exit 2)."""

    exit_code = 2


class SourceError(LivedetError):
    """A camera, stream, video or image that cannot be opened or read (exit 2 at start)."""

    exit_code = 2


class ModelError(LivedetError):
    """A model that cannot be found, downloaded or loaded, or lacks the detection signature."""

    exit_code = 2


class LabelMapError(LivedetError):
    """A malformed or unreadable label map."""

    exit_code = 2


class SinkError(LivedetError):
    """An output that cannot be opened (exit 2) or written mid-run (exit 1, see RuntimeFailure)."""

    exit_code = 2


class RuntimeFailure(LivedetError):
    """Something broke after processing began (inference error, full disk, lost source)."""

    exit_code = 1


class SourceLost(RuntimeFailure):
    """A live source did not come back within its reconnect attempts (exit reason "source
    lost")."""


def one_line(text: str, limit: int = 300) -> str:
    """An error message as one line of at most ``limit`` characters ("" for an empty one).

    TensorFlow's messages start with a heading ("Graph execution error:") and give the cause last,
    before an indented node dump: heading and cause are kept."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    gist = lines[0].strip()
    if gist.endswith(":"):
        cause = next((line for line in reversed(lines[1:]) if not line[0].isspace()), "")
        gist = f"{gist} {cause.strip()}".strip()
    return gist[:limit]


def stage_failure(error: BaseException, stage: str) -> BaseException:
    """Name the failing pipeline stage in one line, keeping the original as the cause (for
    --debug). LivedetErrors already read well; KeyboardInterrupt/SystemExit pass through."""
    if isinstance(error, LivedetError) or not isinstance(error, Exception):
        return error
    detail = one_line(str(error))
    message = f"{stage} failed: {type(error).__name__}" + (f": {detail}" if detail else "")
    wrapped = RuntimeFailure(message)
    wrapped.__cause__ = error
    return wrapped
