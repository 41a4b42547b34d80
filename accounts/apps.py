from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The personal-data registries: accounts' own sections, then every app's
        # `personal_data.py` (see accounts/export.py for the API).
        from django.utils.module_loading import autodiscover_modules

        import accounts.export
        import accounts.jobs  # noqa: F401 - registers the Celery jobs
        from accounts.selectors import notification_preferences
        from mail.preferences import preferences_provider_register

        autodiscover_modules("personal_data")
        # mail sits below accounts: it reads preferences through the provider registered here.
        preferences_provider_register(notification_preferences)
