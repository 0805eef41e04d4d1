"""Exercise insights: what the class gets wrong per exercise, in tumbling windows (an hour, a day).

* ``normalize_error(message)``: error messages with names, values and numbers replaced, so variants
  group (``NameError: name 'x' is not defined`` and ``... 'y' ...``).
* ``fact(...)``: what one checked submission contributes, sent keyed by exercise so one worker holds
  all of an exercise's windows.
* ``ExerciseWindows``: pure state transitions of one exercise's windows and the insight records.
* ``LabWindows``, ``unknown``, ``pattern``: the same per lab device type (most used commands, the
  share of commands the platform's CLI does not know).
"""

from stream_processors.insights._facts import error_of, fact, normalize_error
from stream_processors.insights._lab import LabWindows, pattern, unknown
from stream_processors.insights._windows import WINDOWS, ExerciseWindows

__all__ = [
    "WINDOWS",
    "ExerciseWindows",
    "LabWindows",
    "error_of",
    "fact",
    "normalize_error",
    "pattern",
    "unknown",
]
