"""Every Redis key the service uses, built here and nowhere else."""

from __future__ import annotations


def redis_key(prefix: str, kind: str, *parts: str) -> str:
    """`<prefix>:<kind>:<part>:...`, refusing empty parts (the doubled-colon bug)."""
    pieces = [prefix, kind, *parts]
    if any(not piece for piece in pieces):
        raise ValueError(f"empty part in Redis key {pieces!r}")
    return ":".join(pieces)


def verdict_key(prefix: str, model_version: str, fingerprint: str) -> str:
    """Where a verdict is cached: per model version, so a new model never serves an old verdict."""
    return redis_key(prefix, "verdict", model_version, fingerprint)


def check_key(prefix: str, check_id: str) -> str:
    """Where a check's comment waits for feedback that names it by id."""
    return redis_key(prefix, "check", check_id)


def usage_key(prefix: str, key_id: int, month: str) -> str:
    """A key's calls, spam, ham, missed spam and false positives in one month (`YYYY-MM`)."""
    return redis_key(prefix, "usage", str(key_id), month)


def rate_key(prefix: str, limit: str, subject: str, window: int) -> str:
    """A rate-limit counter: one limit (`key`, `ip`, `login-ip`, `login-name`), one subject, one time window."""
    return redis_key(prefix, "rate", limit, subject, str(window))


def models_channel(prefix: str) -> str:
    """The pub/sub channel on which a promotion, rollback or shadow change wakes every worker."""
    return redis_key(prefix, "models", "changed")
