"""The texts of the notifications written for one user, in their language: one catalog
per language, each a dict of the same keys as the English one, with the same `{names}`
(tests/test_translations.py checks both). A language without a catalog, or a key its
catalog lacks, reads in the default language's catalog, else English. To add a language,
add its dict to `CATALOGS` under its BCP 47 tag (docs/notifications.md, "Languages")."""

from tma.core.languages import fallbacks

CATALOGS: dict[str, dict[str, str]] = {
    "en": {
        "reminder.title": "Time for {course}",
        "reminder.body": "A few minutes today with {course}? Pick up where you left off.",
        "module_available.title": "Now open: {module}",
        "module_available.body": "{module} is open: have a look.",
    },
    "es": {
        "reminder.title": "Es hora de {course}",
        "reminder.body": "¿Unos minutos hoy con {course}? Sigue donde lo dejaste.",
        "module_available.title": "Ya disponible: {module}",
        "module_available.body": "{module} ya está disponible: échale un vistazo.",
    },
}


def message(language: str, default: str, key: str, **values: str) -> str:
    """The text `key` in `language` (or the language it falls back to: `es-MX` -> `es`),
    else in `default`, else in English, with `values` filled in."""
    for tag in (*fallbacks(language), *fallbacks(default), "en"):
        template = CATALOGS.get(tag, {}).get(key)
        if template is not None:
            return template.format(**values)
    raise KeyError(key)
