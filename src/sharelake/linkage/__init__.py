"""Private record linkage of names.

Client side (this package's plaintext part): :mod:`~sharelake.linkage.normalize`
(one versioned pipeline), :mod:`~sharelake.linkage.encode` (q-gram vectors,
birth-date parts, phonetic codes and match keys, ready for secret sharing),
:mod:`~sharelake.linkage.score` (the plaintext twin of the secure scorer),
:mod:`~sharelake.linkage.synth` and :mod:`~sharelake.linkage.quality`
(synthetic multi-script data and measured linkage quality). See LINKAGE.md.
"""

from sharelake.linkage.encode import EncodedPeople, EncodingError, encode_people
from sharelake.linkage.normalize import PIPELINE_VERSION, normalize_name, parse_birth_date

__all__ = [
    "PIPELINE_VERSION",
    "EncodedPeople",
    "EncodingError",
    "encode_people",
    "normalize_name",
    "parse_birth_date",
]
