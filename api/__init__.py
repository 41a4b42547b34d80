"""The REST API under /api/v1/ (issue 18). How to add a resource (tasks, bookings, ...):

* `api/serializers/<resource>.py`: the representation (snake_case; DateTimeField gives
  RFC 3339 UTC) and the input serializers;
* `api/views/<resource>.py`: subclasses of `api.conventions.ApiView`, thin: validate with a
  serializer, call the app's service or selector (the same as its pages), answer. Refusals
  are `taskforge.errors.ServiceError` (problem+json through `api.problems`); 404 for what
  the caller may not know exists. `paginated = True` and `self.paginate(queryset,
  Serializer)` (set `ordering`, ending with a unique field) for lists; `page_of(Serializer)`
  as the 200 response in `extend_schema`. Updates: `etag_for_version(kind, pk, version)` as
  the ETag of reads, `if_match_version(request, kind, pk)` -> the version to pass to the
  service's version-guarded write (412 when stale). Creating POSTs: `@idempotent` and
  `IDEMPOTENCY_PARAMETER`. Public endpoints: `permission_classes = (Anyone, TokenScope)`.
  File uploads: `parser_classes` with MultiPartParser on that view.
* `api/urls.py`: a path above the catch-all;
* tests: rows in `api/tests/test_api_matrix.py` ENDPOINTS (every operation, allowed and
  refused sides), entries in `api/tests/authz.py` (the site-wide matrix); schemathesis
  covers new operations by itself.
"""
