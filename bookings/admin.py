"""Django admin for trips, trip content and bookings (admins only; RLS lets the admin role
see every booking).

Trips are created and edited on the staff pages (they need the outbox and images), so
the admin shows the Trip rows read-only. Trip content (the MongoDB document) is listed,
searched and viewed here, and its content fields (name, resort, description, keywords,
itinerary) are edited through the trip service (`trip_content_edit`): a new Trip version
plus an outbox event, audited, so the admin never writes the document itself and cannot
create drift. Fields copied from the Trip row, and the images, are read-only with a link
to the staff edit page where they change.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html

from bookings import selectors, services
from bookings.content import itinerary_text
from bookings.forms import itinerary_clean, keywords_clean
from bookings.models import Booking, Departure, Trip, TripContent
from taskforge.admin_site import DocumentAdmin
from taskforge.errors import NotFound
from taskforge.mongo import DocumentStoreUnavailable, document_store

TRIP_MOVED_ON = (
    "This trip changed after the page was loaded (or a change is still being applied). "
    "Reload the page to see the current content, then make your change again."
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Trip)
class TripAdmin(ReadOnlyAdmin):
    list_display = ("code", "start", "length_days", "price_minor", "currency", "seats", "active", "version")
    list_filter = ("active", "currency")
    search_fields = ("code",)


@admin.register(Departure)
class DepartureAdmin(ReadOnlyAdmin):
    list_display = ("trip", "date", "capacity", "seats_taken")


@admin.register(Booking)
class BookingAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "trip", "travel_date", "travellers", "total_minor", "currency", "status")
    list_filter = ("status",)
    search_fields = ("user__email", "trip__code", "payment_reference")
    list_select_related = ("user",)


class TripContentAdminForm(forms.ModelForm):
    """The content fields of a trip document; keywords and itinerary as text, as on the staff form."""

    keywords_text = forms.CharField(
        label="Keywords", required=False, max_length=1000, help_text="Comma-separated search keywords."
    )
    itinerary_text = forms.CharField(
        label="Itinerary",
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One line per day: 'Title: details'.",
    )
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = TripContent
        fields = ("name", "resort", "description_md")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        doc = self.instance
        self.fields["description_md"].max_length = 20_000
        self.fields["keywords_text"].initial = ", ".join(doc.keywords)
        days = [{"title": d.title, "details": d.details} for d in doc.itinerary]
        self.fields["itinerary_text"].initial = itinerary_text(days)
        self.fields["expected_version"].initial = doc.version

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())

    def clean_resort(self) -> str:
        return " ".join(self.cleaned_data["resort"].split())

    def clean_keywords_text(self) -> list[str]:
        return keywords_clean(self.cleaned_data.get("keywords_text") or "")

    def clean_itinerary_text(self) -> list[dict[str, Any]]:
        return itinerary_clean(self.cleaned_data.get("itinerary_text") or "")

    def clean_expected_version(self) -> int:
        # Refused here (not only in the service) so the form comes back with what was typed.
        version = self.cleaned_data["expected_version"]
        if version != self.instance.version or selectors.trip_version(self.instance.code) != version:
            raise forms.ValidationError(TRIP_MOVED_ON)
        return version

    def content(self) -> services.TripContentInput:
        data = self.cleaned_data
        return services.TripContentInput(
            name=data["name"],
            resort=data["resort"],
            description_md=data["description_md"],
            keywords=data["keywords_text"],
            itinerary=data["itinerary_text"],
        )


@admin.register(TripContent)
class TripContentAdmin(DocumentAdmin):
    """Trip content documents: list, search, view; content edits go through the trip service."""

    form = TripContentAdminForm
    list_display = ("code", "name", "resort", "start", "active", "version")
    list_filter = ("active",)
    search_fields = ("code", "name", "resort")
    ordering = ("code",)
    copied = ("price_minor", "currency", "price_range", "seats", "start", "length_days", "active")
    readonly_fields = ("code", "trip_facts", *copied, "image", "thumbnail", "created_at", "updated_at", "version")
    fieldsets = (
        (None, {"fields": ("code", "trip_facts")}),
        ("Content", {"fields": ("name", "resort", "description_md", "keywords_text", "itinerary_text")}),
        ("Copied from the trip (change them on the staff page)", {"fields": copied}),
        ("Images (change them on the staff page)", {"fields": ("image", "thumbnail")}),
        ("Record", {"fields": ("created_at", "updated_at", "version", "expected_version")}),
    )

    @admin.display(description="Price, seats, dates, images")
    def trip_facts(self, obj: TripContent) -> str:
        url = reverse("bookings:staff_trip_edit", kwargs={"code": obj.code})
        return format_html('<a href="{}">Change them on the staff trip page</a>', url)

    # While the document server is down these pages answer 503 + Retry-After, not a 500.
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        with document_store():
            return super().changelist_view(request, extra_context)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        with document_store():
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: TripContent, form: Any, change: bool) -> None:
        # Never obj.save(): the service writes the Trip row and the outbox event (audited),
        # and the relay writes the document.
        trip, state = selectors.trip_with_state(obj.code)
        if trip is None:
            raise NotFound("No such trip.")
        if state is None:
            raise DocumentStoreUnavailable()
        services.trip_content_edit(
            actor=request.user,
            trip_code=trip.code,
            expected_version=form.cleaned_data["expected_version"],
            current_state=state,
            content=form.content(),
        )
