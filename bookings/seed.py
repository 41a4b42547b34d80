"""Demo trips and bookings, created through the services (so the MongoDB documents and the
search projection exist exactly as they would for staff-made trips). Idempotent."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import Any

from django.utils import timezone

from accounts.models import User
from bookings import selectors, services
from bookings.images import StoredImage, demo_image_bytes, trip_image_missing, trip_image_restore, trip_image_store
from bookings.models import Booking, BookingStatus, Trip
from taskforge.dbcontext import context_for_user, db_context
from taskforge.errors import ServiceError

# (resort, code prefix, [(name, keywords, base price in pounds, days)])
CATALOGUE: list[tuple[str, str, list[tuple[str, str, int, int]]]] = [
    (
        "Maldives",
        "MAL",
        [
            ("Maldives Overwater Villa Escape", "beach, snorkelling, honeymoon, overwater villa", 4200, 8),
            ("Maldives Island Hopping", "beach, islands, diving, boat", 1900, 10),
            ("Maldives Budget Guesthouse Week", "beach, budget, local island, snorkelling", 850, 7),
        ],
    ),
    (
        "Bali",
        "BAL",
        [
            ("Bali Rice Terraces and Temples", "culture, temples, rice terraces, yoga", 1200, 10),
            ("Bali Surf Camp", "surf, beach, budget, young", 700, 7),
            ("Bali Luxury Jungle Retreat", "spa, jungle, wellness, luxury", 3600, 9),
        ],
    ),
    (
        "Swiss Alps",
        "ALP",
        [
            ("Alpine Ski Week in Zermatt", "ski, snow, matterhorn, chalet", 2400, 7),
            ("Glacier Express Rail Journey", "rail, mountains, scenic", 1800, 6),
            ("Summer Hiking in the Bernese Oberland", "hiking, lakes, mountains", 1300, 8),
        ],
    ),
    (
        "Crete",
        "CRE",
        [
            ("Crete Family Beach Holiday", "family, beach, sun", 900, 7),
            ("Minoan Palaces of Crete", "history, archaeology, culture", 1100, 8),
            ("Samaria Gorge Trek", "hiking, gorge, adventure", 950, 6),
        ],
    ),
    (
        "Kyoto",
        "KYO",
        [
            ("Kyoto Cherry Blossom Tour", "cherry blossom, temples, culture, japan", 2900, 10),
            ("Kyoto Food and Sake Trail", "food, sake, markets, japan", 2200, 7),
            ("Autumn Leaves in Kyoto", "autumn, gardens, temples", 2600, 9),
        ],
    ),
    (
        "Patagonia",
        "PAT",
        [
            ("Torres del Paine W Trek", "trek, mountains, glaciers, adventure", 2800, 9),
            ("Patagonia Glaciers Cruise", "cruise, glaciers, wildlife", 4100, 12),
            ("Patagonia Estancia Riding", "horses, ranch, wildlife", 2300, 8),
        ],
    ),
    (
        "Kenya",
        "KEN",
        [
            ("Masai Mara Safari", "safari, wildlife, big five, migration", 3900, 8),
            ("Kenya Coast and Safari", "safari, beach, wildlife", 3100, 11),
            ("Budget Safari Camping Kenya", "safari, camping, budget", 980, 6),
        ],
    ),
    (
        "Iceland",
        "ICE",
        [
            ("Northern Lights Hunt", "aurora, northern lights, winter", 1500, 5),
            ("Iceland Ring Road Self-Drive", "road trip, waterfalls, volcanoes", 2100, 10),
            ("Reykjavik City Break", "city, lagoon, budget", 690, 4),
        ],
    ),
    (
        "Costa Rica",
        "CRI",
        [
            ("Costa Rica Rainforest and Volcanoes", "rainforest, volcano, wildlife", 2400, 10),
            ("Costa Rica Surf and Yoga", "surf, yoga, beach", 1400, 8),
            ("Cloud Forest Birdwatching", "birds, cloud forest, nature", 1900, 7),
        ],
    ),
    (
        "Amalfi Coast",
        "AMA",
        [
            ("Amalfi Coast Villas", "coast, villas, food, luxury", 3400, 7),
            ("Path of the Gods Walk", "hiking, coast, views", 1250, 6),
            ("Capri and Amalfi Boat Week", "boat, islands, coast", 2700, 7),
        ],
    ),
    (
        "Lapland",
        "LAP",
        [
            ("Lapland Husky Safari", "huskies, snow, northern lights", 2100, 5),
            ("Lapland Family Christmas", "christmas, family, snow", 1800, 4),
            ("Glass Igloo Nights", "aurora, igloo, luxury", 3300, 4),
        ],
    ),
    (
        "Santorini",
        "SAN",
        [
            ("Santorini Sunset Suites", "sunset, caldera, honeymoon, luxury", 3000, 6),
            ("Santorini Wine and Walks", "wine, hiking, villages", 1350, 7),
            ("Cyclades Island Hopper", "islands, ferry, beach, budget", 990, 10),
        ],
    ),
]

DESCRIPTION = """**{name}** takes you to {resort} for {days} days.

* Small group, local guides
* {keywords_sentence}
* Flights not included

Days are relaxed, with free afternoons. See the itinerary for the plan.
"""


def _trip_specs() -> list[dict[str, Any]]:
    today = timezone.localdate()
    specs = []
    n = 0
    for resort, prefix, trips in CATALOGUE:
        for index, (name, keywords, pounds, days) in enumerate(trips, start=1):
            n += 1
            # Spread departures over the coming year; a few soon (partial refunds in the demo).
            start = today + dt.timedelta(days=(9 if n % 9 == 0 else 21 + (n * 37) % 320))
            specs.append(
                {
                    "code": f"{prefix}-{index:02d}{start.strftime('%y')}",
                    "name": name,
                    "resort": resort,
                    "days": days,
                    "start": start,
                    "price_minor": pounds * 100 + (n % 4) * 25 * 100 // 4,
                    "keywords": [k.strip() for k in keywords.split(",")],
                    "seats": 8 + (n % 5) * 4,
                    "n": n,
                }
            )
    return specs


def seed_demo(stdout: Any) -> None:
    admin = User.objects.filter(capability_grants__capability="site_admin", is_active=True).order_by("id").first()
    if admin is None:
        stdout.write("bookings: no admin user; run the accounts seed first")
        return
    created = restored = 0
    codes: list[str] = []
    for spec in _trip_specs():
        codes.append(spec["code"])
        existing = Trip.objects.filter(code=spec["code"]).first()
        if existing is not None:
            restored += _image_restore_if_missing(stdout, existing, spec)
            continue
        image = trip_image_store(io.BytesIO(demo_image_bytes(spec["n"], spec["name"])))
        content = services.TripContentInput(
            name=spec["name"],
            resort=spec["resort"],
            description_md=DESCRIPTION.format(
                name=spec["name"],
                resort=spec["resort"],
                days=spec["days"],
                keywords_sentence="Highlights: " + ", ".join(spec["keywords"]),
            ),
            keywords=spec["keywords"],
            itinerary=[
                {"day": d, "title": f"Day {d}", "details": "Guided visit" if d % 2 else "Free time"}
                for d in range(1, min(spec["days"], 5) + 1)
            ],
        )
        services.trip_create(
            actor=admin,
            code=spec["code"],
            content=content,
            start=spec["start"],
            length_days=spec["days"],
            price_minor=spec["price_minor"],
            currency="GBP",
            seats=spec["seats"],
            image=image,
        )
        created += 1
    stdout.write(f"bookings: {created} trips created ({len(codes)} in the demo catalogue)")
    if restored:
        stdout.write(f"bookings: {restored} missing trip images recreated")
    _seed_bookings(stdout, codes)


def _image_restore_if_missing(stdout: Any, trip: Trip, spec: dict[str, Any]) -> int:
    """A trip kept from an earlier seed whose image files are gone (a new MEDIA_ROOT, a wiped
    var/): write its demo image again under the names its document refers to."""
    state = selectors.trip_state(trip)
    if state is None:
        stdout.write(f"bookings: cannot check the images of {trip.code}: its document is unavailable")
        return 0
    stored = StoredImage(image=state.get("image", ""), thumbnail=state.get("thumbnail", ""))
    if not stored.image or not trip_image_missing(stored):
        return 0
    trip_image_restore(stored, io.BytesIO(demo_image_bytes(spec["n"], spec["name"])))
    return 1


def _seed_bookings(stdout: Any, codes: list[str]) -> None:
    staff = (
        User.objects.filter(capability_grants__capability__in=("booking_desk", "site_admin"), is_active=True)
        .order_by("id")
        .first()
    )
    plan = [
        ("tara@example.com", codes[0], 2, True),
        ("tara@example.com", codes[7], 1, False),
        ("theo@example.com", codes[4], 3, False),
        ("theo@example.com", codes[13], 2, True),
    ]
    made = 0
    for email, code, travellers, confirm in plan:
        user = User.objects.filter(email__iexact=email).first()
        trip = Trip.objects.filter(code=code, active=True).first()
        if user is None or trip is None or trip.start <= timezone.localdate():
            continue
        key = uuid.uuid5(uuid.NAMESPACE_URL, f"taskforge-demo:{email}:{code}")
        with db_context(context_for_user(user, user_agent="manage.py seed_demo")):
            existing = Booking.objects.filter(user=user, idempotency_key=key).first()
            if existing is not None:
                continue
            try:
                booking, _ = services.booking_create(
                    actor=user,
                    trip_code=code,
                    travel_date=trip.start,
                    travellers=travellers,
                    idempotency_key=key,
                    expected_total_minor=trip.price_minor * travellers,
                )
            except ServiceError as exc:
                stdout.write(f"bookings: skipped a demo booking of {code}: {exc.message}")
                continue
        made += 1
        if confirm and staff is not None and booking.status == BookingStatus.PENDING:
            with db_context(context_for_user(staff, user_agent="manage.py seed_demo")):
                services.booking_confirm(actor=staff, booking_id=booking.pk)
    stdout.write(f"bookings: {made} demo bookings created for tara/theo")
