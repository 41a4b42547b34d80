"""The checklist pages: the template editor, the departure's checklist with its progress
(also on the staff departures page), and the task page's links to the departure and, for
the booking desk, to its bookings."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from accounts.models import Membership
from bookings import services as booking_services
from checklists.models import ChecklistItem, ChecklistTask
from sync.relay import relay_sweep
from taskforge.dbcontext import context_for_system, db_context
from taskforge.testing.personas import acting
from tasks.models import Task, TaskStatus
from tasks.services import task_move


def _started(trip, traveller, desk) -> int:
    with acting(traveller):
        booking = booking_services.booking_create(
            actor=traveller,
            trip_code=trip.code,
            travel_date=trip.start,
            travellers=1,
            idempotency_key=uuid.uuid4(),
            expected_total_minor=trip.price_minor,
        )[0]
    with acting(desk):
        booking_services.booking_confirm(actor=desk, booking_id=booking.pk)
    relay_sweep()
    return booking.departure_id


@pytest.mark.django_db
def test_the_template_page_adds_items_and_answers_bad_input(client, checklist_trip, catalogue_editor, ops):
    client.force_login(catalogue_editor)
    url = reverse("checklists:trip", kwargs={"code": checklist_trip.code})
    page = client.get(url)
    assert page.status_code == 200 and "Confirm the hotel" in page.text and "30 days before" in page.text
    bad = client.post(url, {"title": "Send visa letters", "team": ops["team"].pk, "offset_days": "soon"})
    assert bad.status_code == 400 and "Enter a whole number" in bad.text and "Send visa letters" in bad.text
    ok = client.post(url, {"title": "Send visa letters", "team": ops["team"].pk, "offset_days": "-45", "notes": ""})
    assert ok.status_code == 302
    assert ChecklistItem.objects.filter(trip=checklist_trip, title="Send visa letters", offset_days=-45).exists()


@pytest.mark.django_db
def test_the_departure_page_shows_progress(client, checklist_trip, traveller, booking_desk, ops):
    departure_id = _started(checklist_trip, traveller, booking_desk)
    member = ops["member"]
    with db_context(context_for_system("test")):
        link = ChecklistTask.objects.filter(departure_id=departure_id).first()
    with acting(member):
        task = Task.objects.get(id=link.task_id)
        task_move(actor=member, task_id=task.id, status=TaskStatus.DONE, expected_version=task.version)
    url = reverse("checklists:departure", kwargs={"departure_id": departure_id})
    client.force_login(booking_desk)
    page = client.get(url)
    assert page.status_code == 200 and 'data-progress="1/2"' in page.text and "1 of 2 done" in page.text
    staff = client.get(reverse("bookings:staff_departures", kwargs={"code": checklist_trip.code}))
    assert "Checklist 1/2 done" in staff.text and url in staff.text
    client.force_login(member)  # the team doing it may read it
    assert client.get(url).status_code == 200
    client.force_login(ops["outsider"])  # another team's member: no such page
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_the_task_page_links_to_the_departure_and_for_the_desk_its_bookings(
    client, checklist_trip, traveller, booking_desk, make_user, ops
):
    departure_id = _started(checklist_trip, traveller, booking_desk)
    with db_context(context_for_system("test")):
        link = ChecklistTask.objects.filter(departure_id=departure_id).first()
        desk_in_ops = make_user("booking_desk")
        Membership.objects.create(team=ops["team"], user=desk_in_ops, role="member")
    task_url = reverse("tasks:detail", kwargs={"task_id": link.task_id})
    departure_url = reverse("checklists:departure", kwargs={"departure_id": departure_id})
    bookings_url = reverse("bookings:staff_bookings")
    client.force_login(ops["member"])
    page = client.get(task_url)
    assert page.status_code == 200 and departure_url in page.text and bookings_url not in page.text
    client.force_login(desk_in_ops)
    page = client.get(task_url)
    assert departure_url in page.text and f"{bookings_url}?trip={checklist_trip.code}" in page.text
