from __future__ import annotations

from django import forms

from checklists.models import OFFSET_MAX, OFFSET_MIN


class ChecklistItemForm(forms.Form):
    """One item of a trip's checklist template."""

    title = forms.CharField(max_length=200, help_text='e.g. "Confirm the hotel".')
    team = forms.TypedChoiceField(coerce=int, choices=(), help_text="The team whose board gets the task.")
    offset_days = forms.IntegerField(
        min_value=OFFSET_MIN,
        max_value=OFFSET_MAX,
        label="Offset (days)",
        help_text="Days from the departure date the task is due; negative means before it.",
    )
    notes = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, teams=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "Choose a team"), *[(t.pk, t.name) for t in teams]]
