"""The ``sharelake`` command line (typer + rich); the app lives in :mod:`.main`.

Imports inside functions are deliberate here, and only here among the commands: every
command imports the part of sharelake it runs (numpy protocols, pandas, the node service
with FastAPI and uvicorn, the linkage normalisers, MPyC) inside its own function, so
``sharelake --help``, shell completion and ``sharelake version`` load typer and rich only.
Importing the whole stack takes about 20 s on a loaded two-core machine against about 1 s
for :mod:`.main` alone. Light modules (``sharelake.errors``, ``sharelake._version``, the
standard library) are imported at the top of each module.
"""
