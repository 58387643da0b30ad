"""Deployment policy: what may serve an alias, and how it moves — deploy, canary, promote, rollback.

Any named alias (``ALIAS_NAME_PATTERN``: ``production``, ``staging``, ``challenger``...) points at one version and
serves ``POST /models/{name}/predict?alias=<alias>``; ``production`` is the default the predict route serves, and
the one the pipeline's Deploy step, canaries and rollbacks move.

An alias changes in one transaction with its audit event, only if nobody changed it since it was read (its
revision) and only while the target version exists and is deployable (a ConditionCheck in the same transaction
stating the deployable rule, ``DEPLOYABLE_STATUSES``): set_alias, canaries, shadows, promote and rollback alike.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from mlops.errors import DeploymentRefused, InvalidAliasName, ModelNotFound, NothingToRollBack, VersionConflict
from mlops.records.registry import (
    DEPLOYABLE_STATUSES,
    PRODUCTION,
    VERSION_ABANDONED,
    VERSION_APPROVAL_EXPIRED,
    VERSION_PENDING_APPROVAL,
    VERSION_REJECTED,
    AliasRecord,
    VersionRecord,
    is_alias_name,
)
from mlops.registry.table import cancellation_codes, is_cancelled
from mlops.registry.versions import VersionStore
from mlops.storage import codec, layout

MOVED_FIELDS = ("version", "canary_version", "canary_weight")
DEPLOYABLE_VALUES = tuple(f":deployable{i}" for i in range(len(DEPLOYABLE_STATUSES)))


def checked_alias(alias: str) -> str:
    """The alias name, if it is one (InvalidAliasName otherwise): it becomes a key and a URL segment."""
    if not is_alias_name(alias):
        raise InvalidAliasName(
            f"{alias!r} is not an alias name: one is 1 to 32 characters, lower-case letters, digits or '-', starting "
            "with a letter (e.g. staging)"
        )
    return alias


def not_deployable(target: VersionRecord) -> DeploymentRefused | None:
    """Why the version may not serve an alias, in words with the next step (None: it may)."""
    label = f"{target.model_name} v{target.version} is {target.status}"  # the registry's status, then why in words
    decision = target.approval_decision or {}
    if target.status == VERSION_REJECTED and decision and not decision.get("approved"):
        return DeploymentRefused(
            f"{label}, not deployable: it was rejected by its approver {decision.get('by', '')}"
            f"{' (' + str(decision['reason']) + ')' if decision.get('reason') else ''}; train again or deploy "
            "a Registered or Approved version"
        )
    if target.status == VERSION_REJECTED:
        reasons = "; ".join(str(r) for r in (target.gate or {}).get("reasons") or []) or "see its gate report"
        return DeploymentRefused(
            f"{label}, not deployable: the gate rejected it ({reasons}). Deploy a Registered or Approved version, "
            "or train a better one"
        )
    if target.status == VERSION_PENDING_APPROVAL:
        return DeploymentRefused(
            f"{label}, not deployable yet: it is waiting for approval (POST /models/{target.model_name}/versions/"
            f"{target.version}/approve by someone other than its requester); its run deploys it once approved"
        )
    if target.status not in DEPLOYABLE_STATUSES:
        why = {
            VERSION_APPROVAL_EXPIRED: "its approval was never decided before the timeout",
            VERSION_ABANDONED: "the run that registered it failed afterwards, so it was never complete",
        }.get(target.status, f"its status is {target.status}")
        return DeploymentRefused(
            f"{label}, not deployable: {why}. Only Registered or Approved versions serve; train again"
        )
    return None


class AliasOperations(VersionStore):
    def _write_alias(
        self,
        model_name: str,
        alias: str,
        current: AliasRecord | None,
        fields: dict[str, Any],
        *,
        event_type: str,
        actor: str,
        reason: str,
        check_version: int | None,
        details: Any = None,
    ) -> AliasRecord:
        checked_alias(alias)
        at = codec.now_iso()
        record = AliasRecord(
            alias=alias,
            model_name=model_name,
            **{"canary_version": None, "canary_weight": 0.0, "shadow_version": None, **fields},
            revision=(current.revision if current else 0) + 1,
            updated_at=at,
            updated_by=actor,
            reason=reason,
        )
        if current is None:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        elif current.revision == 0:  # written before aliases carried a revision
            condition = {"ConditionExpression": "attribute_not_exists(revision)"}
        else:
            condition = {
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": {":seen": codec.to_value(current.revision)},
            }
        items: list[dict[str, Any]] = []
        if check_version is not None:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": layout.item_key(model_name, layout.version_sk(check_version)),
                        # the deployable rule itself, in the same transaction as the move: a status that changed
                        # after deployable() read it (a failed run abandoned the version) still refuses the move
                        "ConditionExpression": f"attribute_exists(pk) AND #status IN ({', '.join(DEPLOYABLE_VALUES)})",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {
                            name: {"S": status}
                            for name, status in zip(DEPLOYABLE_VALUES, DEPLOYABLE_STATUSES, strict=True)
                        },
                    }
                }
            )
        before = {k: getattr(current, k) if current else None for k in MOVED_FIELDS}
        after = {k: getattr(record, k) for k in MOVED_FIELDS}
        if record.shadow_version is not None or (current is not None and current.shadow_version is not None):
            before["shadow_version"] = current.shadow_version if current else None  # only where a shadow is involved
            after["shadow_version"] = record.shadow_version
        items += [
            self.put(model_name, layout.alias_sk(alias), record.to_stored(), table=self.alias_table, **condition),
            self.event_put(
                model_name,
                event_type,
                actor=actor,
                reason=reason,
                before={"alias": alias, **before},
                after={"alias": alias, **after},
                at=at,
                details=details,
            ),
        ]
        try:
            self.transact(items)
        except ClientError as exc:
            if is_cancelled(exc):
                if check_version is not None:  # the condition that failed may be the deployable rule: say so
                    refusal = not_deployable(self.get_version(model_name, check_version))
                    if refusal is not None:
                        raise refusal from exc
                raise VersionConflict(
                    f"alias {alias} of {model_name} changed concurrently or its version vanished; "
                    f"nothing was written ({cancellation_codes(exc)})"
                ) from exc
            raise
        return record

    def deployable(self, model_name: str, version: int) -> VersionRecord:
        """The version, if it may serve an alias (Registered or Approved); DeploymentRefused otherwise."""
        target = self.get_version(model_name, version)
        refusal = not_deployable(target)
        if refusal is not None:
            raise refusal
        return target

    def set_alias(
        self,
        model_name: str,
        version: int,
        *,
        actor: str,
        reason: str,
        alias: str = PRODUCTION,
        expected_version: int | None = None,
        check_expected: bool = False,
        details: Any = None,
    ) -> AliasRecord:
        """Point an alias at a version, atomically, remembering the previous version for rollback.

        Any canary is cleared. With ``check_expected`` the move only happens if the alias still points at
        ``expected_version`` (``None``: the alias must not exist yet); otherwise VersionConflict.
        """
        checked_alias(alias)
        self.deployable(model_name, version)
        current = self.get_alias(model_name, alias)
        current_version = current.version if current else None
        if check_expected and current_version != expected_version:
            raise VersionConflict(
                f"alias {alias} of {model_name} points at v{current_version}, not v{expected_version}"
            )
        return self._write_alias(
            model_name,
            alias,
            current,
            {"version": version, "previous_version": current_version},
            event_type="AliasMoved",
            actor=actor,
            reason=reason,
            check_version=version,
            details=details,
        )

    def set_canary(
        self,
        model_name: str,
        version: int,
        weight: float,
        *,
        actor: str,
        reason: str,
        alias: str = PRODUCTION,
        details: Any = None,
    ) -> AliasRecord:
        """Send a share ``weight`` (0 < weight < 1) of requests to ``version``; production stays as it is."""
        if not 0 < weight < 1:
            raise ValueError("a canary weight must be between 0 and 1 (exclusive)")
        self.deployable(model_name, version)
        current = self.get_alias(model_name, alias)
        if current is None:
            raise DeploymentRefused(f"{model_name} has no {alias} version yet: deploy one before a canary")
        if current.version == version:
            raise DeploymentRefused(f"v{version} already serves {alias}; a canary must be another version")
        fields = {
            "version": current.version,
            "previous_version": current.previous_version,
            "canary_version": version,
            "canary_weight": float(weight),
        }
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="CanaryChanged",
            actor=actor,
            reason=reason,
            check_version=version,
            details=details,
        )

    def set_shadow(
        self, model_name: str, version: int, *, actor: str, reason: str, alias: str = PRODUCTION, details: Any = None
    ) -> AliasRecord:
        """Mark ``version`` as the alias's shadow: it serves none of the alias's requests; a bake replays the
        alias's captured requests against it. Production and any canary stay as they are."""
        self.deployable(model_name, version)
        current = self.get_alias(model_name, alias)
        if current is None:
            raise DeploymentRefused(f"{model_name} has no {alias} version yet: deploy one before a shadow")
        if current.version == version:
            raise DeploymentRefused(f"v{version} already serves {alias}; a shadow must be another version")
        fields = {
            "version": current.version,
            "previous_version": current.previous_version,
            "canary_version": current.canary_version,
            "canary_weight": current.canary_weight,
            "shadow_version": version,
        }
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="ShadowStarted",
            actor=actor,
            reason=reason,
            check_version=version,
            details=details,
        )

    def end_shadow(
        self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION, details: Any = None
    ) -> AliasRecord:
        """Drop the alias's shadow (the version stays registered); production and any canary are unchanged."""
        current = self.get_alias(model_name, alias)
        if current is None or current.shadow_version is None:
            raise DeploymentRefused(f"{model_name} has no shadow on {alias}")
        fields = {
            "version": current.version,
            "previous_version": current.previous_version,
            "canary_version": current.canary_version,
            "canary_weight": current.canary_weight,
        }
        return self._write_alias(
            model_name,
            alias,
            current,
            fields,
            event_type="ShadowEnded",
            actor=actor,
            reason=reason,
            check_version=None,
            details=details,
        )

    def promote(
        self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION, details: Any = None
    ) -> AliasRecord:
        """Make the canary the production version (the old one becomes the rollback target)."""
        current = self.get_alias(model_name, alias)
        if current is None or not current.canary_version:
            raise DeploymentRefused(f"{model_name} has no canary to promote")
        self.deployable(model_name, current.canary_version)
        return self._write_alias(
            model_name,
            alias,
            current,
            {"version": current.canary_version, "previous_version": current.version},
            event_type="CanaryPromoted",
            actor=actor,
            reason=reason,
            check_version=current.canary_version,
            details=details,
        )

    def rollback(
        self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION, details: Any = None
    ) -> AliasRecord:
        """Undo the last change: drop an active canary, or else move back to the previous version."""
        current = self.get_alias(model_name, alias)
        if current is None:
            raise ModelNotFound(f"model {model_name!r} has no {alias} alias to roll back")
        if current.canary_version:
            return self._write_alias(
                model_name,
                alias,
                current,
                {"version": current.version, "previous_version": current.previous_version},
                event_type="CanaryRolledBack",
                actor=actor,
                reason=reason,
                check_version=None,
                details=details,
            )
        if current.previous_version is None:
            raise NothingToRollBack(f"alias {alias} of {model_name!r} has no previous version to roll back to")
        self.deployable(model_name, current.previous_version)
        return self._write_alias(
            model_name,
            alias,
            current,
            {"version": current.previous_version, "previous_version": current.version},
            event_type="RolledBack",
            actor=actor,
            reason=reason,
            check_version=current.previous_version,
        )

    def remove_alias(self, model_name: str, *, actor: str, reason: str, alias: str = PRODUCTION) -> AliasRecord:
        """Delete the alias (only at the revision read) with its audit event, in one transaction; the version it
        pointed at stays. Used to undo a first deployment whose run failed."""
        current = self.get_alias(model_name, checked_alias(alias))
        if current is None:
            raise ModelNotFound(f"model {model_name!r} has no {alias} alias")
        delete = {
            "Delete": {
                "TableName": self.alias_table,
                "Key": layout.item_key(model_name, layout.alias_sk(alias)),
                "ConditionExpression": "revision = :seen",
                "ExpressionAttributeValues": {":seen": codec.to_value(current.revision)},
            }
        }
        event = self.event_put(
            model_name,
            "AliasRemoved",
            actor=actor,
            reason=reason,
            before={"alias": alias, "version": current.version},
            after={"alias": alias, "version": None},
            at=codec.now_iso(),
        )
        try:
            self.transact([delete, event])
        except ClientError as exc:
            if is_cancelled(exc):
                raise VersionConflict(
                    f"alias {alias} of {model_name} changed concurrently; nothing was removed"
                ) from exc
            raise
        return current
