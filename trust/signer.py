"""Credential sources for programs that act for several people at once.

* :class:`ServiceCredentials` — a service account (the department simulator, an outside
  system) holding several grants: one token, the grant chosen per action from the actor
  the action names, re-signed before it expires.
* :class:`ImpersonatingSigner` — tests and benchmarks only: signs a token for whatever
  actor an action names and registers that person, using the deployment's private key.
  Whoever holds the private signing key can do this; that is why the key file is 0600.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine

from domain.roles import Actor, Grant
from readmodel import accounts as store
from readmodel.database import write_session
from runtime.keys import SigningKeys
from trust.accounts import sign_session
from trust.action_proof import SessionKey
from trust.credentials import Credentials
from trust.directory import refresh_shared
from trust.passwords import hash_secret
from trust.tokens import Claims, read_claims

REFRESH_MARGIN = timedelta(minutes=10)


def _grant_of(actor: Actor) -> Grant:
    return Grant(role=actor.role, department=actor.department)


#: Signs in with a session key's public half; returns the token bound to it.
SignInWithKey = Callable[[SessionKey], str]


class ServiceCredentials:
    """One service account's session; each call picks the grant the actor needs.

    ``login`` signs in for the session key this object makes (and makes anew at each
    re-sign-in, so a token never outlives its key)."""

    def __init__(self, login: SignInWithKey, default_grant: Grant | None = None) -> None:
        self._login = login
        self._default = default_grant
        self._token: str | None = None
        self._key: SessionKey | None = None
        self._claims: Claims | None = None
        self._lock = threading.Lock()

    def _fresh_session(self) -> tuple[str, SessionKey, Claims]:
        from trust.accounts import expires_soon

        with self._lock:
            if (
                self._token is None
                or self._key is None
                or self._claims is None
                or expires_soon(self._claims, REFRESH_MARGIN)
            ):
                key = SessionKey.generate()
                self._token = self._login(key)
                self._key = key
                self._claims = read_claims(self._token)
            return self._token, self._key, self._claims

    def __call__(self, actor: Actor | None) -> Credentials:
        token, key, claims = self._fresh_session()
        grant = _grant_of(actor) if actor is not None else self._default
        if grant is None:
            grant = Grant.parse(claims.grants[0])
        return Credentials(token=token, grant=grant, key=key)


class ImpersonatingSigner:
    """Signs for any actor (registering them as an enabled user with that grant)."""

    def __init__(self, engine: Engine, keys: SigningKeys, lifetime: timedelta = timedelta(hours=8)):
        if keys.private_key is None:
            raise ValueError("an impersonating signer needs the private signing key")
        self._engine = engine
        self._keys = keys
        self._lifetime = lifetime
        self._cache: dict[tuple[str, str, str], Credentials] = {}
        self._lock = threading.Lock()

    def register(self, actor: Actor) -> None:
        grant = _grant_of(actor).label()
        with write_session(self._engine) as session:
            record = session.get(store.UserRecord, actor.user_id)
            if record is None:
                store.add_user(
                    session,
                    user_id=actor.user_id,
                    name=actor.name,
                    grants=[grant],
                    password_hash=hash_secret("not-for-sign-in"),
                    kind=store.SERVICE if actor.role.value == "system" else store.PERSON,
                    must_change_password=False,
                    by="test-signer",
                )
            elif grant not in record.grants:
                record.grants = [*record.grants, grant]
                session.add(record)
        refresh_shared(self._engine)

    def person_session(self, user_id: str, name: str, grants: list[str]) -> tuple[str, SessionKey]:
        """A session (token and key) for a person holding several grants (registered
        as such)."""
        with write_session(self._engine) as session:
            record = session.get(store.UserRecord, user_id)
            if record is None:
                store.add_user(
                    session,
                    user_id=user_id,
                    name=name,
                    grants=grants,
                    password_hash=hash_secret("not-for-sign-in"),
                    must_change_password=False,
                    by="test-signer",
                )
            else:
                record.grants = list(grants)
                record.enabled = True
                session.add(record)
        refresh_shared(self._engine)
        key = SessionKey.generate()
        token = sign_session(
            self._engine,
            self._keys,
            user_id=user_id,
            name=name,
            grants=list(grants),
            kind="person",
            lifetime=self._lifetime,
            session_key=key.public_text,
        ).token
        return token, key

    def sign(self, actor: Actor) -> Credentials:
        cache_key = (actor.user_id, actor.name, _grant_of(actor).label())
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        self.register(actor)
        key = SessionKey.generate()
        token = sign_session(
            self._engine,
            self._keys,
            user_id=actor.user_id,
            name=actor.name,
            grants=[_grant_of(actor).label()],
            kind="service" if actor.role.value == "system" else "person",
            lifetime=self._lifetime,
            session_key=key.public_text,
        ).token
        credentials = Credentials(token=token, grant=_grant_of(actor), key=key)
        with self._lock:
            self._cache[cache_key] = credentials
        return credentials

    def __call__(self, actor: Actor | None) -> Credentials:
        if actor is None:
            raise ValueError("the impersonating signer needs the actor an action names")
        return self.sign(actor)


def signer_from_settings(lifetime: timedelta = timedelta(hours=8)) -> ImpersonatingSigner:
    """An impersonating signer on the configured database and keys (both made if missing):
    tests and benchmarks, which act for many people on a data folder of their own."""
    from readmodel.database import create_read_model, engine_for
    from runtime.keys import init_keys, keys_dir, load_signing_keys
    from runtime.settings import get_settings

    settings = get_settings()
    init_keys(keys_dir(settings))
    create_read_model(settings.resolved_database_url)  # a data folder of their own
    engine = engine_for(settings.resolved_database_url)
    return ImpersonatingSigner(engine, load_signing_keys(keys_dir(settings)), lifetime)
