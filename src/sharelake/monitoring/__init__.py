"""The human-trafficking monitoring use case: data model, synthetic data, analyses, report.

Modules
-------
``model``
    The versioned person data model (:data:`~sharelake.monitoring.model.DATA_MODEL_VERSION`),
    its codebooks, :func:`~sharelake.monitoring.model.validate_frame` and the lake schema.
``synth``
    :func:`~sharelake.monitoring.synth.generate`: four organisations' lists and the truth.
``mse``
    :func:`~sharelake.monitoring.mse.estimate`: multiple-systems estimation.
``analyses``
    The four analyses, on the lake (:class:`~sharelake.monitoring.analyses.SecureLake`) or
    on its plaintext twin (:class:`~sharelake.monitoring.analyses.PlainLake`).
``report``, ``charts``
    ``report.html`` (self-contained, inline SVG) and ``report.json``.
``demo``
    :func:`~sharelake.monitoring.demo.run_demo`, behind ``sharelake demo``.

Submodules are imported on use, so ``import sharelake.monitoring`` stays light.

Examples
--------
>>> from sharelake.monitoring.mse import read_capture_table, estimate
>>> r = estimate(read_capture_table("tests/data/mse/UKdat_5.csv"))  # doctest: +SKIP
>>> round(r.total)  # doctest: +SKIP
11313
"""

from __future__ import annotations

__all__: list[str] = []
