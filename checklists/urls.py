from django.urls import path

from checklists import views

urlpatterns = [
    path("checklists/trips/<str:code>/", views.trip_checklist, name="trip"),
    path("checklists/items/<int:item_id>/delete/", views.checklist_item_delete, name="item_delete"),
    path("checklists/departures/<int:departure_id>/", views.departure_checklist, name="departure"),
]
