"""The public trip catalogue."""

from __future__ import annotations

from rest_framework import serializers

from bookings.models import PriceRange

SORTS = ["soonest", "price", "price_desc", "name"]


class TripQuerySerializer(serializers.Serializer):
    """The catalogue's filters (validated by the site's own catalogue form)."""

    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Search words; typo-tolerant (a search with "
        "no match is retried with each word corrected to the nearest catalogue word)",
    )
    resort = serializers.CharField(required=False, max_length=120)
    price_range = serializers.ChoiceField(required=False, choices=PriceRange.choices)
    price_min = serializers.DecimalField(
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=0,
        help_text="Per person, in major units (e.g. 499.00)",
    )
    price_max = serializers.DecimalField(required=False, max_digits=12, decimal_places=2, min_value=0)
    start_from = serializers.DateField(required=False, help_text="Earliest start date (YYYY-MM-DD)")
    start_to = serializers.DateField(required=False)
    length_min = serializers.IntegerField(required=False, min_value=1, max_value=365, help_text="Days")
    length_max = serializers.IntegerField(required=False, min_value=1, max_value=365)
    sort = serializers.ChoiceField(required=False, choices=SORTS, help_text="Default: relevance with `q`, else soonest")
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=200, help_text="Ignored: trip pages have 20 items"
    )


class TripListItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    resort = serializers.CharField()
    price_minor = serializers.IntegerField(help_text="Price per person in minor units (pence, cents)")
    currency = serializers.CharField()
    price_range = serializers.ChoiceField(choices=PriceRange.choices)
    start = serializers.DateField()
    length_days = serializers.IntegerField()
    thumbnail_url = serializers.CharField(source="thumb_url")
    snippet_html = serializers.CharField(help_text="With `q`: the matching text, matches in <mark> (sanitised HTML)")


class TripPageSerializer(serializers.Serializer):
    results = TripListItemSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    mode = serializers.ChoiceField(
        choices=["list", "search", "typo"], help_text="`typo`: no exact match; searched for `corrected_query` instead"
    )
    corrected_query = serializers.CharField(allow_blank=True)
    total = serializers.IntegerField(help_text="Matches (capped at 1000; see total_capped)")
    total_capped = serializers.BooleanField()


class TripSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    resort = serializers.CharField()
    price_minor = serializers.IntegerField()
    currency = serializers.CharField()
    start = serializers.DateField()
    length_days = serializers.IntegerField()
    active = serializers.BooleanField()
    bookable = serializers.BooleanField(help_text="Active, in the future and with seats left")
    seats_left = serializers.IntegerField(help_text="Seats left on `next_departure`")
    next_departure = serializers.DateField(
        allow_null=True, help_text="The next open departure with room (else the next open one); null: none to come"
    )
    description_html = serializers.CharField(allow_blank=True, help_text="Sanitised HTML of the description")
    keywords = serializers.ListField(child=serializers.CharField())
    itinerary = serializers.ListField(child=serializers.DictField())
    details_pending = serializers.BooleanField(help_text="The description could not be read just now; try again later")
