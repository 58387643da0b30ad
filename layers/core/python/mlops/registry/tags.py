"""Version tags: a map of short strings on the version record (``tags``), set and deleted one key at a time.

Each change is one transaction with its audit event (``VersionTagSet``, ``VersionTagDeleted``), conditional on the
tags' revision read, so two writers never lose each other's keys: the loser reads again and retries.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from mlops.errors import InvalidTag, ModelNotFound, VersionConflict
from mlops.records.registry import (
    MAX_TAGS_PER_VERSION,
    TAG_KEY_PATTERN_RE,
    TAG_KEY_WORDS,
    TAG_VALUE_MAX_CHARS,
    VersionRecord,
)
from mlops.registry.table import MAX_WRITE_ATTEMPTS, is_cancelled
from mlops.registry.versions import VersionStore
from mlops.storage import codec, layout


def checked_tag(key: str, value: str | None = None) -> None:
    if not isinstance(key, str) or not TAG_KEY_PATTERN_RE.fullmatch(key):
        raise InvalidTag(f"{key!r} is not a tag key: {TAG_KEY_WORDS}")
    if value is not None and (not isinstance(value, str) or len(value) > TAG_VALUE_MAX_CHARS):
        raise InvalidTag(f"a tag value is a string of at most {TAG_VALUE_MAX_CHARS} characters")


class TagOperations(VersionStore):
    def _write_tags(
        self, record: VersionRecord, tags: dict[str, str], *, event_type: str, key: str, actor: str, reason: str
    ) -> None:
        model_name, version = record.model_name, record.version
        seen = record.tags_revision
        condition = "attribute_exists(pk) AND " + (
            "(attribute_not_exists(tags_revision) OR tags_revision = :seen)" if seen == 0 else "tags_revision = :seen"
        )
        update = {
            "Update": {
                "TableName": self.table_name,
                "Key": layout.item_key(model_name, layout.version_sk(version)),
                "UpdateExpression": "SET tags = :tags, tags_revision = :next",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": {
                    ":tags": codec.to_value(tags),
                    ":next": codec.to_value(seen + 1),
                    ":seen": codec.to_value(seen),
                },
            }
        }
        event = self.event_put(
            model_name,
            event_type,
            actor=actor,
            reason=reason,
            before={"version": version, "tag": key, "value": record.tags.get(key)},
            after={"version": version, "tag": key, "value": tags.get(key)},
            at=codec.now_iso(),
        )
        self.transact([update, event])

    def _change_tag(
        self, model_name: str, version: int, key: str, value: str | None, *, actor: str, reason: str
    ) -> VersionRecord:
        for _ in range(MAX_WRITE_ATTEMPTS):
            record = self.get_version(model_name, version)
            tags = dict(record.tags)
            if value is None:
                if key not in tags:
                    raise ModelNotFound(f"{model_name} v{version} has no tag {key!r}")
                del tags[key]
                event_type = "VersionTagDeleted"
            else:
                if tags.get(key) == value:
                    return record  # already so: nothing to change, nothing to record
                tags[key] = value
                if len(tags) > MAX_TAGS_PER_VERSION:
                    raise InvalidTag(f"a version holds at most {MAX_TAGS_PER_VERSION} tags")
                event_type = "VersionTagSet"
            try:
                self._write_tags(record, tags, event_type=event_type, key=key, actor=actor, reason=reason)
            except ClientError as exc:
                if is_cancelled(exc):
                    continue  # another tag changed since the read: read again
                raise
            return self.get_version(model_name, version)
        raise VersionConflict(f"the tags of {model_name} v{version} kept changing; nothing was written")

    def set_tag(self, model_name: str, version: int, key: str, value: str, *, actor: str, reason: str) -> VersionRecord:
        """Set one tag of a version (audited); setting the value it already has writes nothing."""
        checked_tag(key, value)
        return self._change_tag(model_name, version, key, value, actor=actor, reason=reason)

    def delete_tag(self, model_name: str, version: int, key: str, *, actor: str, reason: str) -> VersionRecord:
        """Delete one tag of a version (audited); ModelNotFound if the version has no such tag."""
        checked_tag(key)
        return self._change_tag(model_name, version, key, None, actor=actor, reason=reason)
