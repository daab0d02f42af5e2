"""Roles and what each may do (a separate module so the CLI can list roles without loading argon2)."""
from __future__ import annotations

ROLES = ("clinician", "admin")
PERMISSIONS: dict[str, frozenset[str]] = {
    "clinician": frozenset({"ask", "search"}),
    "admin": frozenset({"ask", "search", "upload", "remove", "manage_users", "export"}),
}
