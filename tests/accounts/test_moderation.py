"""One write path per admin action: the Django admin and the review screens call the same
services (accounts.moderation, access.services), which write the same records."""

import ast
from pathlib import Path

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from access.models import IPBlock
from access.services import ip_block_add, ip_block_remove
from accounts import moderation
from accounts.models import ApiToken, Tier, User
from accounts.services import token_create
from core.models import AdminActionLog, SecurityEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/user/"
REPO = Path(__file__).resolve().parents[2]
AUDIT_WRITERS = {"admin_action_log", "security_event_record"}


def test_admin_suspend_action_uses_the_moderation_service(admin_client):
    """Ensures that suspending from the user list deactivates the account and writes one
    ``account_suspend`` record with the reason given."""
    user = UserFactory()
    data = {"action": "suspend_accounts", ACTION_CHECKBOX_NAME: [user.pk], "apply": "1"}
    response = admin_client.post(CHANGELIST, {**data, "reason": "Spam farm"})
    assert response.status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    (log,) = AdminActionLog.objects.filter(action=AdminActionLog.Action.ACCOUNT_SUSPEND)
    assert log.target_object_id == str(user.pk) and log.reason == "Spam farm"


def test_admin_revoke_tokens_action_uses_the_moderation_service(admin_client):
    """Ensures that revoking tokens from the user list revokes every live token, records each
    as a security event and writes one ``tokens_revoke`` record naming them."""
    user = UserFactory()
    first, _ = token_create(user=user, name="a", scopes=["read"])
    second, _ = token_create(user=user, name="b", scopes=["read"])
    data = {"action": "revoke_tokens", ACTION_CHECKBOX_NAME: [user.pk], "apply": "1"}
    admin_client.post(CHANGELIST, {**data, "reason": "Leaked on a forum"})
    assert not ApiToken.objects.filter(user=user, revoked_at__isnull=True).exists()
    (log,) = AdminActionLog.objects.filter(action=AdminActionLog.Action.TOKENS_REVOKE)
    assert sorted(log.details["token_ids"]) == [first.pk, second.pk]
    assert SecurityEvent.objects.filter(kind=SecurityEvent.TOKEN_REVOKED).count() == 2


def test_tier_override_records_one_shape_whoever_calls():
    """Ensures that a tier override writes the same security-event details (from/to/by) and
    admin-log details from the admin (plain) and the review screens (with the flag)."""
    admin = UserFactory(is_staff=True)
    user = UserFactory()
    restricted = Tier.objects.get(slug=Tier.RESTRICTED)
    moderation.user_tier_override_set(user=user, tier=restricted, actor=admin, reason="admin")
    moderation.user_tier_override_set(
        user=user,
        tier=None,
        actor=admin,
        reason="review",
        action=AdminActionLog.Action.FLAG_RESTRICT_TIER,
        details={"flag_id": 7, "rule": "deep_paging", "principal": f"user:{user.pk}"},
    )
    plain, flagged = SecurityEvent.objects.filter(kind=SecurityEvent.TIER_CHANGED).order_by("pk")
    assert plain.details == {"from": None, "to": "restricted", "by": admin.pk}
    assert flagged.details == {"from": "restricted", "to": None, "by": admin.pk, "flag": 7}
    logs = AdminActionLog.objects.order_by("pk")
    assert [log.action for log in logs] == ["tier_override", "flag_restrict_tier"]
    assert {"previous_override", "tier", "budget"} <= set(logs[0].details) <= set(logs[1].details)
    assert User.objects.get(pk=user.pk).tier_override_id is None


def test_ip_block_add_and_remove_are_recorded(settings):
    """Ensures that blocking a prefix twice keeps one block and records both, and lifting it
    is recorded with the prefix before the row goes."""
    actor = UserFactory(is_staff=True)
    ip_block_add(prefix="203.0.113.0/24", reason="farm", actor=actor)
    block = ip_block_add(prefix="203.0.113.0/24", reason="again", actor=actor)
    assert IPBlock.objects.count() == 1
    ip_block_remove(block=block, actor=actor, reason="lifted")
    actions = list(AdminActionLog.objects.order_by("pk").values_list("action", "details"))
    assert [action for action, _ in actions] == ["ip_block_add", "ip_block_add", "ip_block_remove"]
    assert actions[1][1]["already_blocked"] is True
    assert actions[2][1] == {"prefix": "203.0.113.0/24"}
    assert not IPBlock.objects.exists()


def _calls(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    }


def test_no_admin_or_view_module_writes_an_audit_record_itself():
    """Ensures that no admin or view module calls the audit write functions directly: each
    admin action goes through its service, so the admin and the review screens share it."""
    apps = ["core", "accounts", "access", "feeds", "verification", "api", "microblog"]
    offenders = [
        str(path.relative_to(REPO))
        for app in apps
        for path in (REPO / app).rglob("*.py")
        if (path.name.startswith(("admin", "views")) or path.parent.name == "views")
        and _calls(path) & AUDIT_WRITERS
    ]
    assert offenders == []
