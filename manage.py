#!/usr/bin/env python
"""Django's command-line utility. Commands run with an operator database context."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "taskforge.settings")
    from django.core.management import execute_from_command_line

    from taskforge.dbcontext import context_for_command, context_set

    context_set(context_for_command(sys.argv[1] if len(sys.argv) > 1 else "help"))
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
