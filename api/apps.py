from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API under /api/v1/ (DRF + drf-spectacular): conventions in this package's
    modules, resources in views/ and serializers/, one module per resource."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        # drf-spectacular finds the bearer-token scheme through this import's registration.
        from api import authentication  # noqa: F401  # housecheck: ok (AppConfig.ready registers the schema extension)
