"""The search vocabulary (typo correction by trigram distance) replaces the trigram column.

Matching a misspelt word against every trip's text with word_similarity costs a full
recheck of every row that shares trigrams with it (a common word matches a tenth of the
catalogue); matching it against the vocabulary (a few thousand words, GiST KNN) and then
running the ordinary full-text search is bounded.
"""

from django.db import migrations, models

FORWARD = r"""
CREATE INDEX bookings_search_word_trgm_idx ON bookings_search_word USING gist (word gist_trgm_ops);
INSERT INTO bookings_search_word (word)
SELECT DISTINCT w FROM bookings_trip_listing l,
       regexp_split_to_table(lower(l.name || ' ' || l.resort || ' ' || l.keywords), '[^[:alnum:]]+') AS w
WHERE length(w) BETWEEN 3 AND 60
ON CONFLICT DO NOTHING;
DROP INDEX IF EXISTS bookings_listing_resort_trgm_idx;
DROP INDEX IF EXISTS bookings_listing_search_trgm_idx;
ALTER TABLE bookings_trip_listing DROP COLUMN IF EXISTS search_text;
"""

BACKWARD = r"""
ALTER TABLE bookings_trip_listing ADD COLUMN search_text text GENERATED ALWAYS AS (
    lower(coalesce(name, '') || ' ' || coalesce(resort, '') || ' ' || coalesce(keywords, ''))
) STORED;
CREATE INDEX bookings_listing_search_trgm_idx ON bookings_trip_listing USING gin (search_text gin_trgm_ops);
CREATE INDEX bookings_listing_resort_trgm_idx ON bookings_trip_listing USING gin (lower(resort) gin_trgm_ops);
DROP INDEX IF EXISTS bookings_search_word_trgm_idx;
"""


class Migration(migrations.Migration):
    dependencies = [("bookings", "0002_search_projection")]

    operations = [
        migrations.CreateModel(
            name="SearchWord",
            fields=[("word", models.CharField(max_length=60, primary_key=True, serialize=False))],
            options={"db_table": "bookings_search_word"},
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
