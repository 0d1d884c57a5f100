"""The SLA policy set in Redis: versioned, so running workers pick up live edits.

A worker applies the policy file at start only when the file changed since it was last
applied (its hash is kept in Redis), so a restart does not revert `socialcare sla set`.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis.asyncio as aioredis

from processor.domain.sla import SlaPolicySet, SlaRule, load_policy_file


class SlaPolicyStore:
    """The policy set in Redis, with a version number that workers poll for changes."""

    def __init__(self, redis: aioredis.Redis, prefix: str) -> None:
        self._redis = redis
        self._policy_key = f"{prefix}:sla:policies"
        self._version_key = f"{prefix}:sla:version"
        self._file_hash_key = f"{prefix}:sla:file-sha256"

    async def version(self) -> int:
        value = await self._redis.get(self._version_key)
        return int(value) if value is not None else 0

    async def load(self) -> tuple[SlaPolicySet, int]:
        """The stored policy set and its version (the built-in default if none is stored)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self._policy_key)
            pipe.get(self._version_key)
            document, version = await pipe.execute()
        if document is None:
            return SlaPolicySet(), 0
        return SlaPolicySet.model_validate_json(document), int(version or 0)

    async def save(self, policy: SlaPolicySet) -> int:
        """Store a new policy set; returns its version."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._policy_key, policy.to_json())
            pipe.incr(self._version_key)
            _, version = await pipe.execute()
        return int(version)

    async def apply_file(self, path: Path) -> bool:
        """Store the file's policy if the file changed since it was last applied."""
        policy, file_hash = load_policy_file(path)
        stored_hash = await self._redis.get(self._file_hash_key)
        if stored_hash in (file_hash, file_hash.encode()):
            return False
        await self.save(policy)
        await self._redis.set(self._file_hash_key, file_hash)
        return True

    async def set_rule(self, rule: SlaRule) -> int:
        policy, _ = await self.load()
        return await self.save(policy.with_rule(rule))

    async def set_default(self, targets: dict[str, timedelta | None]) -> int:
        """Change some of the default targets (None leaves a target as it is)."""
        policy, _ = await self.load()
        default = policy.default.model_copy(
            update={key: value for key, value in targets.items() if value is not None}
        )
        return await self.save(policy.model_copy(update={"default": default}))
