"""The engine side of proven identity: a worker interceptor that verifies the session
token of every Update **before** the Update's own validator and hands the workflow's
role rules the verified actor, whatever actor the client put in the payload.

* Validator (runs once, when the Update arrives; never on replay): verify signature,
  key id, expiry at ``workflow.now()``, the action proof (signed by the session's key
  for this case, this Update, this Update id and these arguments, fresh, not seen
  before in this run: see ``trust.action_proof``), and the user directory (enabled,
  session not ended, grant held). A refusal raises, so the Update is rejected with
  nothing written to history.
* Handler (runs on first execution and on every replay): takes the actor from the
  token already accepted — without keys, clock or directory — so replay is
  deterministic even after keys rotate or the person is disabled.
* Signals: the token, grant and proof are copied from the headers into the signal's
  model (fields ``token``/``grant``/``proof``), with the digest of the arguments as
  they arrived (``digest``), for the workflow to verify in an activity, whatever the
  client wrote there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from domain.refusal import ActionRefused, Refusal
from domain.roles import Actor
from readmodel.audit import AuditEntry
from trust.action_proof import read_proof_claims, received_digest, update_binding
from trust.audit_log import security_entry
from trust.credentials import credential_headers, proof_header
from trust.directory import DirectoryUnavailable
from trust.tokens import InvalidToken
from trust.verifier import IdentityVerifier, NotPermitted, replayed_actor

UNAUTHENTICATED = "Unauthenticated"


class IdentityInterceptor(Interceptor):
    """Add to a worker (``Worker(..., interceptors=[IdentityInterceptor(verifier)])``)."""

    def __init__(
        self,
        verifier: IdentityVerifier,
        audit: Callable[[AuditEntry], None] | None = None,
    ) -> None:
        self._verifier = verifier
        self._audit = audit

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        verifier, audit = self._verifier, self._audit

        class _Bound(_VerifyingInbound):
            _identity_verifier = verifier
            _audit_refusal = staticmethod(audit) if audit else None

        return _Bound


def _refusal_code(refused: ApplicationError) -> str | None:
    """The code a workflow sent with its refusal (``domain.refusal``), if any."""
    details = refused.details[0] if refused.details else None
    code = details.get("code") if isinstance(details, dict) else None
    return str(code) if code else None


def _case_no_of(workflow_id: str) -> str | None:
    """The case a workflow is (None for the others, e.g. a 督办 item's)."""
    return workflow_id.removeprefix("case-") if workflow_id.startswith("case-") else None


def _with_actor(args: Sequence[Any], actor: Actor) -> Sequence[Any]:
    if not args or not hasattr(args[0], "actor"):
        return args
    return [args[0].model_copy(update={"actor": actor}), *args[1:]]


class _VerifyingInbound(WorkflowInboundInterceptor):
    _identity_verifier: IdentityVerifier
    _audit_refusal: Callable[[AuditEntry], None] | None = None

    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        # Proofs this run accepted, by proof id, with their expiry (epoch seconds):
        # rebuilt by the handlers on replay, so a proof is accepted once per run.
        self._accepted_proofs: dict[str, int] = {}

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        token, grant = credential_headers(input.headers)
        binding = update_binding(
            workflow.info().workflow_id, input.update, input.id, input.args, received=True
        )
        try:
            actor, proof = self._identity_verifier.verify_action(
                token, grant, proof_header(input.headers), binding, workflow.now()
            )
            if proof.jti in self._accepted_proofs:
                raise InvalidToken("操作证明已使用过（action proof already used）")
        except NotPermitted as refused:  # a real token: the person is on record
            self._record_refusal(input, token, grant, str(refused))
            raise ApplicationError(str(refused), type=UNAUTHENTICATED, non_retryable=True) from None
        except (InvalidToken, DirectoryUnavailable) as refused:
            self._record_refusal(input, token, grant, str(refused), error=refused)
            raise ApplicationError(str(refused), type=UNAUTHENTICATED, non_retryable=True) from None
        input.args = _with_actor(input.args, actor)
        try:
            super().handle_update_validator(input)
            self._check_named_people(input)
        except ApplicationError as refused:
            self._record_refusal(
                input, token, grant, refused.message, actor, refusal=_refusal_code(refused)
            )
            raise

    def _check_named_people(self, input: HandleUpdateInput) -> None:
        """An action naming a person (the 代办员 of ``assign_agent``) names a known,
        enabled person, by the user directory: checked here, where the directory is
        (validators never run on replay, so replay does not depend on it)."""
        if input.update != "assign_agent" or not input.args:
            return
        user_id = str(getattr(input.args[0], "agent", ""))
        entry = self._identity_verifier.directory.snapshot().users.get(user_id)
        if entry is not None and entry.enabled and entry.kind != "service":
            return
        refused = ActionRefused(
            Refusal.UNKNOWN_USER, f"unknown or disabled user {user_id!r}", user=user_id
        )
        raise ApplicationError(
            str(refused), refused.details(), type="ActionRefused", non_retryable=True
        )

    def _record_refusal(
        self,
        input: HandleUpdateInput,
        token: str | None,
        grant: str | None,
        why: str,
        actor: Actor | None = None,
        *,
        error: Exception | None = None,
        refusal: str | None = None,
    ) -> None:
        """Audit a refused action (validators never run on replay, so this happens once
        per refusal): a signed-in person's as ``refused``; one without a valid identity
        (no token, bad or expired token, directory down) as ``security``, bounded by the
        recorder (``trust.audit_log``)."""
        if self._audit_refusal is None:
            return
        if not token or error is not None:
            self._audit_refusal(
                security_entry(
                    at=workflow.now(),
                    case_no=_case_no_of(workflow.info().workflow_id),
                    update=input.update,
                    update_id=input.id,
                    error=error,
                    token=token,
                )
            )
            return
        if actor is None:
            try:
                actor = replayed_actor(token, grant)
            except Exception:
                return
        action = input.args[0] if input.args else None
        self._audit_refusal(
            AuditEntry(
                at=workflow.now(),
                kind="refused",
                actor_id=actor.user_id,
                actor_name=actor.name,
                actor_role=grant or actor.role.value,
                case_no=_case_no_of(workflow.info().workflow_id),
                summary=f"{input.update} 被拒绝：{why}",
                reason=str(getattr(action, "reason", ""))[:500],
                data={
                    "update": input.update,
                    "update_id": input.id,
                    "workflow_id": workflow.info().workflow_id,
                    # the engine's refusal code (e.g. material_already_received): 电子监察
                    # reads attempts the engine stopped, not only actions it took
                    **({"refusal": refusal} if refusal else {}),
                },
            )
        )

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        token, grant = credential_headers(input.headers)
        if token:  # histories from before proven identity carry none; their validator ran then
            input.args = _with_actor(input.args, replayed_actor(token, grant))
        self._remember_proof(proof_header(input.headers))
        return await super().handle_update_handler(input)

    def _remember_proof(self, proof: str | None) -> None:
        """Note an accepted proof (deterministic: only what the history holds)."""
        claims = read_proof_claims(proof) if proof else None
        if claims is None:
            return
        now = int(workflow.now().timestamp())
        for stale in [jti for jti, exp in self._accepted_proofs.items() if exp <= now]:
            del self._accepted_proofs[stale]
        self._accepted_proofs[claims.jti] = claims.exp

    async def handle_signal(self, input: HandleSignalInput) -> None:
        token, grant = credential_headers(input.headers)
        if input.args and hasattr(input.args[0], "token"):
            model = input.args[0]
            input.args = [
                model.model_copy(
                    update={
                        "token": token,
                        "grant": grant,
                        "proof": proof_header(input.headers),
                        "digest": received_digest(input.args),
                    }
                ),
                *input.args[1:],
            ]
        await super().handle_signal(input)
