"""Task search gets the catalogue's typo correction (taskforge.search): a per-team search
vocabulary with a trigram GiST index, filled from the projection; the trigram index on
task titles, which only the old title-similarity fallback used, goes.
"""

from django.db import migrations, models

FORWARD = r"""
CREATE INDEX tasks_search_word_trgm_idx ON tasks_search_word USING gist (word gist_trgm_ops);
INSERT INTO tasks_search_word (team_id, word)
SELECT DISTINCT s.team_id, w FROM tasks_task_search s,
       regexp_split_to_table(lower(s.title || ' ' || s.body || ' ' || (
           SELECT coalesce(string_agg(t, ' '), '') FROM jsonb_array_elements_text(s.tags) AS t
       )), '[^[:alnum:]]+') AS w
WHERE NOT s.deleted AND length(w) BETWEEN 3 AND 60
ON CONFLICT DO NOTHING;
"""

BACKWARD = "DROP INDEX IF EXISTS tasks_search_word_trgm_idx;"


class Migration(migrations.Migration):
    dependencies = [("tasks", "0004_history_function_grants")]

    operations = [
        migrations.CreateModel(
            name="TaskSearchWord",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "team_id", "word", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("team_id", models.BigIntegerField()),
                ("word", models.CharField(max_length=60)),
            ],
            options={"db_table": "tasks_search_word"},
        ),
        migrations.RemoveIndex(model_name="tasksearch", name="tasks_search_title_trgm"),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
