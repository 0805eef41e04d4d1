"""Lab CLI command interpreter: per-platform abbreviation expansion, CLI-mode tracking, categories.

Pure logic, no Kafka, no logging: the command agent calls ``interpret(state, device_type, command)``
per event and stores ``result.state`` (``{"modes": [...], "priv": n}``) for the session.

Decisions beyond DESIGN.md's category order (show, debug, routing, config, other):

- Cisco-style modes are looked up innermost first, then each enclosing mode (``hostname`` typed in
  ``config-if`` runs in ``config`` and leaves the sub-mode, as IOS does), then EXEC (``sh run`` typed
  in config mode without ``do`` is ``show``: NX-OS and EOS accept it, IOS users mean it). A command
  that only exists in another mode (``router ospf 1`` at ``R1#``) is categorised by intent; the mode
  does not change. ``conf t`` typed at ``R1>`` enters config (events before ``enable`` may be lost).
- Unknown words: ``other`` in EXEC and Junos; inside a config sub-mode they take the mode's category
  (``routing`` in every routing-protocol context, ``config`` elsewhere). ``exit``/``end``/``^Z`` are
  ``other`` everywhere. ``no``/``default`` take the category of what they negate and enter no mode.
- Routing also covers ``ip ospf``/``ip router ospf`` and the like under interfaces, ``route-map``,
  ``ip prefix-list``, ``ip routing``, ``ip default-gateway``, NX-OS ``feature ospf|bgp|…`` and Junos
  ``routing-instances``; Junos ``set protocols lldp|rstp|…`` (layer 2) is ``config``.
- Interface names are printed as each platform does (NX-OS ``loopback0``, EOS ``Port-Channel1``).
- Ambiguous prefixes and unknown words stay as typed; arguments are never rewritten.
- Junos ``up`` climbs statement levels, ``exit`` undoes one ``edit`` (after ``up`` it climbs one level).
- Linux: see :mod:`stream_processors.commands.linux`. Unknown device types are read as IOS.
"""

from schemas import DEVICE_TYPES  # the event contract's list, re-exported for the interpreter's users
from stream_processors.commands.interpreter import interpret, normalize
from stream_processors.commands.result import Category, InterpretResult

__all__ = ["DEVICE_TYPES", "Category", "InterpretResult", "interpret", "normalize"]
