"""Search columns of the trip projection, which Django does not manage.

* search_vector: weighted tsvector (name A, resort A, keywords B, description C),
  a STORED generated column, so every write of the projection keeps it right; GIN index.
* search_text: name + resort + keywords in lower case, trigram GIN index (pg_trgm), for
  typo-tolerant matching with word_similarity (`'maldivs' <% search_text`).
"""

from django.db import migrations

FORWARD = r"""
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE bookings_trip_listing
  ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
      setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A')
   || setweight(to_tsvector('english'::regconfig, coalesce(resort, '')), 'A')
   || setweight(to_tsvector('english'::regconfig, coalesce(keywords, '')), 'B')
   || setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'C')
  ) STORED,
  ADD COLUMN search_text text GENERATED ALWAYS AS (
      lower(coalesce(name, '') || ' ' || coalesce(resort, '') || ' ' || coalesce(keywords, ''))
  ) STORED;

CREATE INDEX bookings_listing_search_vector_idx ON bookings_trip_listing USING gin (search_vector);
CREATE INDEX bookings_listing_search_trgm_idx ON bookings_trip_listing USING gin (search_text gin_trgm_ops);
CREATE INDEX bookings_listing_resort_trgm_idx ON bookings_trip_listing USING gin (lower(resort) gin_trgm_ops);
"""

BACKWARD = r"""
DROP INDEX IF EXISTS bookings_listing_resort_trgm_idx;
DROP INDEX IF EXISTS bookings_listing_search_trgm_idx;
DROP INDEX IF EXISTS bookings_listing_search_vector_idx;
ALTER TABLE bookings_trip_listing DROP COLUMN IF EXISTS search_text, DROP COLUMN IF EXISTS search_vector;
"""


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
