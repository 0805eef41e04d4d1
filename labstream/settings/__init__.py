"""Compatibility re-export of :mod:`foundation.settings` for code written against LabStream < issue 12.

``from labstream.settings import Settings`` keeps working for SDK users; new code imports
``foundation.settings``. Nothing in the project imports this module (``tests/test_layout.py``).
(A package rather than ``labstream/settings.py`` so that git records ``foundation/settings.py``
as that file, moved.)
"""

from foundation.settings import Settings, Topics

__all__ = ["Settings", "Topics"]
