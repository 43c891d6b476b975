"""A Django project's users, as Django itself makes them, for latchkey's
import tests: users hashed by each of Django's hashers at Django 5.2's
default parameters (with Django's own make_password), groups, a staff user,
an inactive user and one with an unusable password; a `dumpdata` of them;
and a refresh token minted by Simple JWT for one of them.

    python django_project.py make DATABASE DUMP_PATH   -> JSON on stdout
    python django_project.py change DATABASE USERNAME EMAIL

DATABASE is sqlite:PATH or postgres:HOST:PORT:USER:NAME:SCHEMA (the schema
is created; Django's tables go into it).
"""

import io
import json
import sys

import django
from django.conf import settings

SECRET_KEY = "django-insecure-latchkey-import-test-key-0123456789abcdef"

HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.BCryptPasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]


def configure(database):
    kind, _, rest = database.partition(":")
    if kind == "sqlite":
        db = {"ENGINE": "django.db.backends.sqlite3", "NAME": rest}
    else:
        host, port, user, name, schema = rest.split(":")
        import psycopg

        with psycopg.connect(host=host, port=port, user=user, dbname=name, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        db = {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": host,
            "PORT": port,
            "USER": user,
            "NAME": name,
            "OPTIONS": {"options": f"-c search_path={schema}"},
        }
    settings.configure(
        SECRET_KEY=SECRET_KEY,
        USE_TZ=True,
        DATABASES={"default": db},
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "rest_framework",
            "rest_framework.authtoken",
            "rest_framework_simplejwt",
        ],
        PASSWORD_HASHERS=HASHERS,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def make(dump_path):
    from django.contrib.auth.hashers import get_hasher, make_password
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token
    from rest_framework_simplejwt.tokens import RefreshToken

    call_command("migrate", verbosity=0)
    editors = Group.objects.create(name="editors")
    ops = Group.objects.create(name="ops")
    made = []
    for algorithm in ["pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt", "md5"]:
        password = f"{algorithm} passphrase ünïcode"
        user = User(
            username=f"user-{algorithm}",
            email=f"{algorithm}@example.com",
            first_name=algorithm.capitalize(),
            password=make_password(password, hasher=get_hasher(algorithm)),
        )
        user.save()
        made.append({"id": user.pk, "username": user.username, "password": password, "hasher": algorithm})
    staff = User.objects.create_user("staff", "staff@example.com", "staff passphrase", is_staff=True, is_superuser=True)
    staff.groups.add(editors, ops)
    made.append({"id": staff.pk, "username": "staff", "password": "staff passphrase", "hasher": "pbkdf2_sha256"})
    inactive = User.objects.create_user("gone", "", "gone passphrase", is_active=False)
    inactive.groups.add(ops)
    made.append({"id": inactive.pk, "username": "gone", "password": "gone passphrase", "hasher": "pbkdf2_sha256", "inactive": True})
    nopass = User.objects.create_user("sso", "sso@example.com")
    nopass.set_unusable_password()
    nopass.save()
    made.append({"id": nopass.pk, "username": "sso", "password": None, "hasher": "unusable"})
    out = io.StringIO()
    drf_key = Token.objects.create(user=staff).key
    call_command("dumpdata", "auth.user", "auth.group", "authtoken.token", stdout=out)
    with open(dump_path, "w") as dump:
        dump.write(out.getvalue())
    refresh = RefreshToken.for_user(staff)
    print(json.dumps({"users": made, "secret_key": SECRET_KEY, "refresh": str(refresh), "drf_key": drf_key}))


def change(username, email):
    from django.contrib.auth.models import User

    User.objects.filter(username=username).update(email=email)


def drop_token(username):
    from rest_framework.authtoken.models import Token

    Token.objects.filter(user__username=username).delete()


if __name__ == "__main__":
    command, database = sys.argv[1], sys.argv[2]
    configure(database)
    if command == "make":
        make(sys.argv[3])
    elif command == "drop-token":
        drop_token(sys.argv[3])
    else:
        change(sys.argv[3], sys.argv[4])
