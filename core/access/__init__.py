"""Who acts: users and their roles, signing in with a password, and the audit log of who did what."""

from core.access.roles import LOCAL_ADMIN, Actor, Role, allows, require

__all__ = ["LOCAL_ADMIN", "Actor", "Role", "allows", "require"]
