"""Privacy and security: PHI scrubbing, log scrubbing, accounts, sessions, audit trail.

Importing this package is cheap: Presidio is imported by `Scrubber.warm_up()` and
SQLAlchemy models only when `privacy.accounts` / `privacy.audit` are imported.
"""
from privacy.errors import PrivacyError
from privacy.scrub import ENTITY_TYPES, PhiSpan, ScrubConfig, Scrubber, default_scrubber, scrub_text

__all__ = ["ENTITY_TYPES", "PhiSpan", "PrivacyError", "ScrubConfig", "Scrubber", "default_scrubber", "scrub_text"]
