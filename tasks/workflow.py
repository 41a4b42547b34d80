"""The board's workflow: which column a card may move to from which, and why not.

A card moves to any column except where the workflow says no; every refusal has a reason
that the service raises and the board shows on the card (move menu, drag and drop).
"""

from __future__ import annotations

from tasks.models import TaskStatus

_ALL = frozenset(TaskStatus.values)

# Work in the backlog is not planned yet: it goes to To do or In progress before it can be
# reviewed or done. Every other move between two columns is allowed.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    status: _ALL - {status} - ({TaskStatus.IN_REVIEW, TaskStatus.DONE} if status == TaskStatus.BACKLOG else set())
    for status in TaskStatus.values
}
STATUS_LABELS: dict[str, str] = {s: str(label) for s, label in TaskStatus.choices}


def transition_refusal(old: str, new: str) -> str | None:
    """Why a card in `old` cannot move to `new` (None when it can, or when it stays)."""
    if new == old or new in STATUS_TRANSITIONS[old]:
        return None
    labels = STATUS_LABELS
    allowed = ", ".join(labels[s] for s in TaskStatus.values if s in STATUS_TRANSITIONS[old])
    if old == TaskStatus.BACKLOG:
        return (
            f"A task cannot move from {labels[old]} to {labels.get(new, new)}: start it first. "
            f"From {labels[old]} it can go to: {allowed}."
        )
    return (
        f"A task cannot move from {labels[old]} to {labels.get(new, new)}. From {labels[old]} it can go to: {allowed}."
    )
