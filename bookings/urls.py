"""URL routes of this app (included at the site root by taskforge/urls.py): trips/... and bookings/..."""

from django.urls import path

from bookings import views, views_departures

urlpatterns = [
    # catalogue and search
    path("trips/", views.catalogue, name="catalogue"),
    path("trips/images/<str:name>", views.trip_image, name="trip_image"),
    # staff trip pages (before trips/<code>/ so "staff" is never read as a code)
    path("trips/staff/", views.staff_trips, name="staff_trips"),
    path("trips/staff/new/", views.staff_trip_new, name="staff_trip_new"),
    path("trips/staff/<str:code>/edit/", views.staff_trip_edit, name="staff_trip_edit"),
    path("trips/staff/<str:code>/active/", views.staff_trip_active, name="staff_trip_active"),
    path("trips/staff/<str:code>/departures/", views_departures.staff_departures, name="staff_departures"),
    path(
        "trips/staff/departures/<int:departure_id>/edit/",
        views_departures.staff_departure_edit,
        name="staff_departure_edit",
    ),
    path(
        "trips/staff/departures/<int:departure_id>/waitlist/",
        views_departures.staff_waitlist,
        name="staff_waitlist",
    ),
    path(
        "trips/staff/departures/<int:departure_id>/cancel/",
        views_departures.staff_departure_cancel,
        name="staff_departure_cancel",
    ),
    # trip page and booking
    path("trips/<str:code>/", views.trip_detail, name="trip_detail"),
    path("trips/<str:code>/book/", views.trip_book, name="trip_book"),
    path("trips/<str:code>/quote/", views.trip_quote, name="trip_quote"),
    path("trips/<str:code>/waitlist/", views_departures.waitlist_join, name="waitlist_join"),
    path("waitlist/<int:entry_id>/", views_departures.waitlist_entry, name="waitlist_entry"),
    # bookings
    path("bookings/mine/", views.my_bookings, name="my_bookings"),
    path("bookings/staff/", views.staff_bookings, name="staff_bookings"),
    path("bookings/<int:booking_id>/", views.booking_detail, name="booking_detail"),
    path("bookings/<int:booking_id>/cancel/", views.booking_cancel, name="booking_cancel"),
    path("bookings/<int:booking_id>/reduce/", views.booking_reduce, name="booking_reduce"),
    path("bookings/<int:booking_id>/confirm/", views.staff_confirm, name="staff_confirm"),
    path("bookings/<int:booking_id>/payment/", views.staff_payment, name="staff_payment"),
    path("bookings/<int:booking_id>/staff-cancel/", views.staff_cancel, name="staff_cancel"),
    path(
        "bookings/<int:booking_id>/departure-refund/",
        views_departures.booking_departure_refund,
        name="booking_departure_refund",
    ),
    path(
        "bookings/<int:booking_id>/departure-move/",
        views_departures.booking_departure_move,
        name="booking_departure_move",
    ),
]
