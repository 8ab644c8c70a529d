"""The query engine: executes a plan on secret tables, as one of the three parties.

:mod:`.executor` walks a plan and calls the relational operators; :mod:`.linkage` runs the
``link`` operator (exact and fuzzy record linkage); :mod:`.tables` assembles secret tables
from a node's stored shares and checks upload bundles against the schema; :mod:`.design`
makes the dummy tables of design mode, so the client's dry run uses this same engine. The
node service calls the engine; the engine never talks HTTP and never reads the catalog.
"""
