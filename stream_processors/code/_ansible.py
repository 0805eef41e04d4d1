"""Module names an Ansible playbook's tasks use: the YAML analogue of Python's imports."""

from __future__ import annotations

from typing import Any

# Task keywords (ansible-core's Task/Block/Base attributes) that are not a module name.
_TASK_KEYWORDS = frozenset(
    """name when register loop loop_control until retries delay notify tags vars become become_user
    become_method become_flags ignore_errors ignore_unreachable changed_when failed_when no_log
    delegate_to delegate_facts run_once environment args async poll check_mode diff throttle timeout
    any_errors_fatal collections connection debugger module_defaults port remote_user listen
    block rescue always action local_action""".split()
)
_TASK_LISTS = ("pre_tasks", "roles", "tasks", "post_tasks", "handlers")
_MAX_TASKS = 1000  # a YAML alias bomb shares nodes; walking them must not multiply the work
_MAX_DEPTH = 8


def ansible_modules(docs: list[Any]) -> list[str]:
    """Modules used by the tasks of a playbook or a task file, in order, deduplicated.

    >>> ansible_modules([[{"hosts": "r1", "tasks": [{"name": "x", "cisco.ios.ios_config": {}}]}]])
    ['cisco.ios.ios_config']
    """
    found: dict[str, None] = {}
    budget = [_MAX_TASKS]
    for doc in docs:
        if not isinstance(doc, list):
            continue
        for item in doc:
            if budget[0] <= 0:
                break
            if isinstance(item, dict) and any(k in item for k in ("hosts", "import_playbook")):
                for key in _TASK_LISTS:
                    if key != "roles":
                        _walk(item.get(key), found, budget, 0)
            else:
                _walk([item], found, budget, 0)
    return list(found)


def _walk(tasks: Any, found: dict[str, None], budget: list[int], depth: int) -> None:
    if not isinstance(tasks, list) or depth > _MAX_DEPTH:
        return
    for task in tasks:
        budget[0] -= 1
        if budget[0] < 0:
            return
        if not isinstance(task, dict):
            continue
        if any(k in task for k in ("block", "rescue", "always")):
            for key in ("block", "rescue", "always"):
                _walk(task.get(key), found, budget, depth + 1)
            continue
        action = task.get("action") or task.get("local_action")
        if isinstance(action, str) and action.split():
            found.setdefault(action.split()[0], None)
            continue
        for key in task:
            if isinstance(key, str) and key not in _TASK_KEYWORDS and not key.startswith("with_"):
                found.setdefault(key, None)
                break
