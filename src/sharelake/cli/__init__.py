"""The ``sharelake`` command line (typer + rich); the app lives in :mod:`.main`."""
