"""Every failure sharelake reports, one class per failure mode, in one tree.

Catch :class:`SharelakeError` for anything sharelake raises on purpose; the categories
below it say what went wrong, the leaves (defined beside the code that raises them) say
where. The tree (``tests/test_errors.py`` checks that it is complete and true)::

    SharelakeError
    ├── ProtocolError              a peer broke the message protocol (session, sequence, size)
    │   ├── ProtocolVersionError   a peer speaks another protocol version (net.framing)
    │   └── InsufficientCheckingError  an unchecked value reached an opening (mpc.checks)
    ├── IntegrityError             redundant copies of a share disagree: a party tampered
    │   ├── VerificationError      a check of products or AND gates failed (mpc.checks)
    │   └── PeerAbortError         a peer reported a failed check and aborted the query
    ├── PeerError                  a named peer could not be reached in time
    │   ├── PeerTimeoutError       no message within the deadline
    │   ├── PeerDisconnectedError  the connection closed or broke
    │   └── NodeUnavailableError   a node did not answer the client (client.errors)
    │       └── NodeCertificateError   its certificate was not the pinned one (or expired)
    ├── AuthenticationError        a certificate, signature or identity did not verify
    │   ├── SignatureError         a bad Ed25519 signature (consortium.keys)
    │   ├── UnknownMemberError     a member the consortium file does not name (consortium.members)
    │   ├── MalformedRequestError  a request without valid signing headers (consortium.signing)
    │   ├── StaleRequestError      a request outside the clock window (consortium.signing)
    │   ├── ReplayError            a request nonce seen before (consortium.signing)
    │   ├── SealError              an answer not sealed to this query's key (consortium.sealing)
    │   ├── UnsignedConsortiumError  a founder has not signed the file (consortium.founding)
    │   ├── MembershipChangeError  a revision not signed by every approver (consortium.changes)
    │   └── NodeAuthError          a node refused the client's identity (client.errors)
    ├── InputValidationError       client input rejected before anything was shared
    │   ├── PlanError              a plan outside the grammar (plan.canonical)
    │   ├── BodyTooLargeError      a request body over the endpoint's cap (node.limits)
    │   ├── MalformedBodyError     a body not JSON, or nested or sized past the limits
    │   ├── EncodingError          names that cannot be encoded for linkage (linkage.encode)
    │   ├── DataModelError         a monitoring list outside the data model (monitoring.model)
    │   ├── MSEError               a capture history that gives no estimate (monitoring.mse)
    │   ├── ExistingTableError     an upload to an existing table without replace (client.upload)
    │   ├── UploadDeclinedError    an upload preview not confirmed (client.upload)
    │   └── QueryError             a query() string outside the pandas subset (client.query_text)
    ├── BundleError                a malformed share bundle (storage.bundle)
    ├── ShareIntegrityError        a stored share file that fails its checksum (storage.shares)
    ├── CatalogError               the node's catalog refuses a change (storage.catalog)
    │   ├── TableNotFoundError     no such table
    │   ├── TableOwnerError        the table belongs to another member
    │   ├── TableExistsError       an upload to an existing table without ``replace``
    │   └── UploadStateError       an upload in the wrong state for the step
    ├── KeyFileError               a key file that cannot be read (consortium.keys)
    ├── ConsortiumConfigError      an invalid consortium file (consortium.members)
    ├── PurposeError               a purpose missing or not agreed (consortium.members)
    ├── ClusterExistsError         ``cluster init`` into a non-empty folder (consortium.cluster)
    ├── NodeFolderError            a node folder that cannot be made (consortium.node_folder)
    ├── PolicyError                an invalid or unsigned column policy (governance.policy)
    ├── ApprovalError              an invalid approval (governance.approvals)
    ├── BudgetExceededError        a query budget is spent (governance.outputs)
    ├── NoiseError                 a release that cannot be noised (governance.noise)
    ├── NoiseBudgetError           a table's privacy budget is spent (governance.noise)
    ├── DifferencingError          a release would difference an earlier one (governance.outputs)
    ├── NoiseError                 a release that cannot be noised (governance.noise)
    ├── NoiseBudgetError           a table's privacy budget is spent (governance.noise)
    ├── AuthorizationError         a member's role does not allow the request (node.authz)
    ├── DataInconsistencyError     the three nodes hold different data (node.consistency)
    │   └── ReleaseHistoryError    the nodes' release records differ
    ├── StaleTableError            a stored persons table of old lists (engine.persons_table)
    ├── QueryDeadlineError         a query ran past its deadline (node.deadline)
    ├── SessionBusyError           a peer session id already in use (node.peers)
    ├── SessionReusedError         a query session that already ran at the node (node.ledger)
    ├── RateLimitError             a member over the node's request rate (node.limits)
    ├── NodeStartupError           a node could not start (node.server)
    ├── BackupError                a backup that cannot be written or restored (node.operations)
    ├── ClusterStartError          a LocalCluster could not start (node.local)
    ├── NodeError                  a node refused a client request (client.errors)
    │   ├── NodeAuthError          (also an AuthenticationError, above)
    │   ├── NodePolicyError        refused by the table's policy or governance
    │   ├── NodeNotFoundError      no such table, request or upload
    │   ├── NodeConflictError      the request conflicts with the node's state
    │   └── NodeInputError         the node rejected the request's content
    ├── UnknownTableError          a table the three nodes do not list alike (client.errors)
    ├── SuppressedCountError       len(t) of a selection the policy suppressed (client.errors)
    ├── UploadError                an upload that did not commit on all three nodes (client.upload)
    └── LinkageError               a linkage request that cannot run (client.linkage)

Messages name the node (``P0``, ``P1``, ``P2``), the session, the file, row and column,
never a data value.
"""

from __future__ import annotations

from collections.abc import Sequence


class SharelakeError(Exception):
    """Base class of every error sharelake raises on purpose."""


class ProtocolError(SharelakeError):
    """A message violated the protocol: wrong session, sequence number or size."""


class ProtocolVersionError(ProtocolError):
    """A peer speaks another node-to-node protocol version (``theirs``); not retried."""

    def __init__(self, message: str, *, theirs: int) -> None:
        super().__init__(message)
        self.theirs = theirs


class IntegrityError(SharelakeError):
    """Two copies of the same share disagree; a party deviated from the protocol."""


class PeerAbortError(IntegrityError):
    """A peer saw one of its checks fail and aborted the query, telling this node so.

    ``node`` names the peer, ``check`` the check it reported (a short name, never a
    value). The notice is authenticated by the channel (it came from that node) but its
    claim is not: a corrupt node can always abort a query, so an honest node believes
    the abort, not the accusation. Both honest nodes thus end a query one of them caught
    with an IntegrityError instead of one of them seeing only a lost peer.
    """

    def __init__(self, message: str, *, node: int, check: str, session: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.check = check
        self.session = session


class PeerError(SharelakeError):
    """A peer node failed; ``node`` names it and ``session`` the query."""

    def __init__(self, message: str, *, node: int, session: str = "") -> None:
        super().__init__(message)
        self.node = node
        self.session = session


class PeerTimeoutError(PeerError):
    """A peer sent nothing within the receive deadline."""


class PeerDisconnectedError(PeerError):
    """A peer's connection closed or broke."""


class AuthenticationError(SharelakeError):
    """A certificate, signature or claimed identity did not verify."""


class InputValidationError(SharelakeError):
    """Client input was rejected before anything was shared.

    ``source``, ``row`` and ``column`` locate the offending value when known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                f"file {source}" if source else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.source = source
        self.row = row
        self.column = column
        #: every problem found when several were (the first one is ``row``/``column``)
        self.found: tuple[InputValidationError, ...] = (self,)

    @classmethod
    def all_of(
        cls, problems: Sequence[InputValidationError], *, source: str | None = None, shown: int = 10
    ) -> InputValidationError:
        """One error listing every problem (the first ``shown``, then how many more).

        Examples
        --------
        >>> a = InputValidationError("not a number", row=2, column="age")
        >>> b = InputValidationError("not a date", row=5, column="day")
        >>> print(InputValidationError.all_of([a, b], source="x.csv"))
        file x.csv: 2 problems: row 2, column 'age': not a number; row 5, column 'day': not a date
        """
        if len(problems) == 1:
            return problems[0]
        parts = []
        for p in problems[:shown]:
            where = ", ".join(
                w
                for w in (
                    f"row {p.row}" if p.row is not None else "",
                    f"column {p.column!r}" if p.column else "",
                )
                if w
            )
            parts.append(f"{where}: {p.message}" if where else p.message)
        more = len(problems) - shown
        text = f"{len(problems)} problems: " + "; ".join(parts)
        if more > 0:
            text += f"; and {more} more problem{'s' * (more > 1)}"
        first = problems[0]
        out = cls(text, source=source or first.source)
        out.row, out.column = first.row, first.column
        out.found = tuple(problems)
        return out
