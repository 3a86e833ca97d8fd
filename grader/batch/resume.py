"""Resume only what would grade the same: a result is reused when it records the same notebook
and the same grading fingerprint; otherwise it is graded again, for a reason the run states.

The fingerprint is what decides a score besides the notebook: the exercise, the grader's
version, the configuration that affects outcomes, and a one-way identifier of the secret
(an HMAC keyed by the secret; the secret itself is never stored).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grader
from grader.config import Config

SECRET_ID_LABEL = b"rnn-grader/secret-id"
# Limits that change what is kept of a submission's output, never its score.
NOT_SCORING = {"limits": ("kept_output_chars",)}
FINGERPRINT_KEYS = ("exercise", "grader_version", "secret_id", "config_sha256")

# Why a submission is graded (again), in the order the run lists them.
REASONS = {
    "new": "not graded yet",
    "forced": "regraded (--force)",
    "notebook": "notebook changed",
    "exercise": "graded for another exercise",
    "grader_version": "graded by another version of rnn-grader",
    "secret": "graded with another secret",
    "config": "graded with other settings (grader.toml or flags)",
    "unreadable": "results.json unreadable",
}
_FIELD_REASONS = {"exercise": "exercise", "grader_version": "grader_version",
                  "config_sha256": "config", "secret_id": "secret"}


def secret_id(secret: bytes) -> str:
    """A one-way identifier of the secret: equal secrets, equal ids; the id reveals nothing."""
    return hmac.new(secret, SECRET_ID_LABEL, hashlib.sha256).hexdigest()[:16]


def config_digest(config: Config) -> str:
    """A digest of the configuration keys that can change a score."""
    scoring = {}
    for section in dataclasses.fields(config):
        values = dataclasses.asdict(getattr(config, section.name))
        for key in NOT_SCORING.get(section.name, ()):
            values.pop(key)
        scoring[section.name] = values
    text = json.dumps(scoring, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(exercise: str, config: Config, secret_identifier: str) -> dict[str, str]:
    """What results.json records about how it was graded, besides the notebook."""
    return {"exercise": exercise, "grader_version": grader.__version__,
            "config_sha256": config_digest(config), "secret_id": secret_identifier}


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_recorded(path: Path) -> dict[str, Any] | None:
    """results.json's extra_data, or None when there is no readable result."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))["extra_data"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def stale_reason(recorded: dict[str, Any] | None, digest: str,
                 expected: dict[str, str]) -> str | None:
    """None when the recorded result is what grading now would give; else a REASONS key."""
    if recorded is None:
        return "new"
    if not recorded:
        return "unreadable"
    for key in FINGERPRINT_KEYS:
        if recorded.get(key) != expected[key]:
            return _FIELD_REASONS[key]
    if recorded.get("notebook_sha256") != digest:
        return "notebook"
    return None


@dataclass
class ResumePlan:
    """Which submissions are graded now, and why; which results are kept."""

    todo: list[Any] = field(default_factory=list)
    kept: list[Any] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def describe(self) -> str:
        """One line for the instructor, e.g. '12 already graded, kept (...). 1 to grade: ...'"""
        parts = []
        if self.kept:
            parts.append(f"{len(self.kept)} already graded, kept (same notebook, same grading "
                         "settings; --force regrades them).")
        why = ", ".join(f"{count} {REASONS[reason]}" for reason, count in
                        sorted(self.reasons.items(), key=lambda item: list(REASONS).index(item[0])))
        parts.append(f"{len(self.todo)} to grade" + (f": {why}." if why else "."))
        return " ".join(parts)


def plan_resume(submissions: Iterable[Any], recorded_of: Callable[[Any], dict | None],
                digest_of: Callable[[Any], str],
                expected: dict[str, str] | Callable[[Any], dict[str, str]],
                force: bool) -> ResumePlan:
    """Sort submissions into kept and to grade (with the reason for each). `expected`: the
    fingerprint, or what gives each submission's (a batch mixing exercises)."""
    plan = ResumePlan()
    for submission in submissions:
        wanted = expected(submission) if callable(expected) else expected
        reason = stale_reason(recorded_of(submission), digest_of(submission), wanted)
        if reason is None and force:
            reason = "forced"
        if reason is None:
            plan.kept.append(submission)
        else:
            plan.todo.append(submission)
            plan.reasons[reason] += 1
    return plan
