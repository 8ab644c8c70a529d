"""The three-party harness: run one protocol function as three parties.

:func:`.runner.run_parties` runs a body in memory (three threads, :mod:`sharelake.net.memory`)
or as three OS processes over mutual TLS (:mod:`.procs`, each child is :mod:`.party_main`);
:mod:`.codec` carries protocol values (arrays, shares) between parent and children without
pickle; :mod:`.tamper` makes a party alter what it sends, for fault tests. Tests, the
benchmark suite and the engine demo use it; the node service does not.
"""
