"""The data behind each report (the star schema, at most one ETL run old), as JSON."""

from __future__ import annotations

from rest_framework import serializers


class RangeQuerySerializer(serializers.Serializer):
    """A report's date range, both ends inclusive (blank: the report's default range)."""

    start = serializers.DateField(required=False, help_text="From (YYYY-MM-DD)")
    end = serializers.DateField(required=False, help_text="To (YYYY-MM-DD), inclusive")


class TaskQuerySerializer(RangeQuerySerializer):
    team = serializers.IntegerField(required=False, min_value=1, help_text="Only this team (one of yours)")


class RevenueRowSerializer(serializers.Serializer):
    bucket = serializers.DateField(help_text="The day, or the first day of the month")
    currency = serializers.CharField()
    bookings = serializers.IntegerField(help_text="Made in the bucket, including those cancelled since")
    cancelled = serializers.IntegerField()
    travellers = serializers.IntegerField(help_text="Of the bookings not cancelled")
    booked_minor = serializers.IntegerField(help_text="Total of the bookings not cancelled, minor units")
    revenue_minor = serializers.IntegerField(help_text="Confirmed totals plus what cancellations kept")


class RevenueReportSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=["day", "month"])
    start = serializers.DateField()
    end = serializers.DateField()
    rows = RevenueRowSerializer(many=True)


class ResortRowSerializer(serializers.Serializer):
    resort = serializers.CharField()
    currency = serializers.CharField()
    bookings = serializers.IntegerField(help_text="Not cancelled")
    cancelled = serializers.IntegerField()
    travellers = serializers.IntegerField()
    customers = serializers.IntegerField(help_text="Distinct travellers with a booking not cancelled")
    revenue_minor = serializers.IntegerField()


class ResortReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    rows = ResortRowSerializer(many=True)


class SeatRowSerializer(serializers.Serializer):
    trip_code = serializers.CharField(source="code")
    trip = serializers.CharField()
    resort = serializers.CharField()
    departure = serializers.DateField()
    capacity = serializers.IntegerField()
    seats_taken = serializers.IntegerField(source="taken")
    confirmed_travellers = serializers.IntegerField(source="confirmed")
    pending_travellers = serializers.IntegerField(source="pending")
    utilisation_percent = serializers.IntegerField(source="percent")
    snapshot = serializers.DateField(help_text="The day of the seat-inventory snapshot")


class SeatReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    capped = serializers.BooleanField(help_text="Only the first 1000 departures are listed (the CSV has them all)")
    rows = SeatRowSerializer(many=True)


class TaskWeekSerializer(serializers.Serializer):
    team_id = serializers.IntegerField()
    week = serializers.DateField(help_text="The Monday")
    created = serializers.IntegerField()
    done = serializers.IntegerField()
    cycle_hours_avg = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    cycle_hours_median = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class TeamFlowSerializer(serializers.Serializer):
    team_id = serializers.IntegerField()
    team = serializers.CharField()
    created = serializers.IntegerField()
    done = serializers.IntegerField()
    cycle_hours_avg = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class TaskReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    teams = TeamFlowSerializer(many=True, help_text="Totals over the range, per team you may see")
    weeks = TaskWeekSerializer(many=True)
