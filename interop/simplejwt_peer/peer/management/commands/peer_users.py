"""Create or update the peer's test users (idempotent).

Users come from PEER_USERS, "name:password[:flag...],name2:password2", where a
flag is `staff`, `superuser` or `inactive`. A trailing field is read as a flag
only if it is one of those words, so a password may contain ':' but not ','.
"""
import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEFAULT_USERS = (
    "alice:correct horse battery,"
    "bob:correct horse battery,"
    "root:correct horse battery:staff:superuser"
)
FLAGS = {"staff", "superuser", "inactive"}


def parse_users(spec):
    users = []
    for entry in spec.split(","):
        if not entry.strip():
            continue
        fields = entry.split(":")
        if len(fields) < 2 or not fields[0].strip():
            raise CommandError(f"PEER_USERS entry {entry!r} is not name:password[:flag...]")
        name, rest = fields[0].strip(), fields[1:]
        flags = set()
        while len(rest) > 1 and rest[-1].strip().lower() in FLAGS:
            flags.add(rest.pop().strip().lower())
        users.append((name, ":".join(rest), flags))
    return users


class Command(BaseCommand):
    help = "Create or update test users from PEER_USERS (name:password[:staff|superuser|inactive],...)."

    def handle(self, *args, **options):
        spec = os.environ.get("PEER_USERS", "").strip() or DEFAULT_USERS
        User = get_user_model()
        for name, password, flags in parse_users(spec):
            user, created = User.objects.get_or_create(username=name)
            user.set_password(password)
            user.is_staff = "staff" in flags or "superuser" in flags
            user.is_superuser = "superuser" in flags
            user.is_active = "inactive" not in flags
            user.save()
            shown = ",".join(sorted(flags)) or "-"
            self.stdout.write(f"peer user {name} id={user.pk} ({'created' if created else 'updated'}; {shown})")
