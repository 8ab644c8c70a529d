"""``sharelake bench``: the benchmark suite, its registry of operations and its baselines.

:mod:`.run` plans a run and prints the table (the ``bench`` command calls it);
:mod:`.suite` is the registry and the in-party body that times each operation inside three
parties; :mod:`.join`, :mod:`.relational` and :mod:`.linkage` register the relational and
linkage operations; :mod:`.lake` times whole-lake operations (upload, query overhead) over
a LocalCluster; :mod:`.baseline_mpyc` runs the same operations in MPyC
(:mod:`.mpyc_program`) for comparison.
"""
