"""Recording issued licences in the e-licence store (电子证照库)."""

from __future__ import annotations

import logging
from functools import cache

from temporalio import activity

from activities.projection import read_model_engine
from domain.materials import ELicence
from domain.projection import ELicenceList, ELicenceQuery, IssueLicences, Revocation
from readmodel.database import read_session, write_session
from readmodel.projection import revoke_licences as revoke_in_store
from readmodel.projection import store_licences
from readmodel.queries import valid_licences
from runtime.keys import keys_dir, load_lookup_key
from runtime.settings import get_settings

logger = logging.getLogger(__name__)


@cache
def lookup_key() -> bytes:
    """The keystore's HMAC key for holder hashes, read once per worker process."""
    return load_lookup_key(keys_dir(get_settings()))


@activity.defn(name="issue_licences")
def issue_licences(request: IssueLicences) -> None:
    """Store the licences once each by number, so a retried activity adds nothing.

    Logs case numbers and counts only: licences carry the holder's id.
    """
    with write_session(read_model_engine()) as session:
        stored = store_licences(session, request.licences, lookup_key=lookup_key())
    cases = sorted({licence.case_no for licence in request.licences})
    logger.info(
        "licences stored=%d of %d case_no=%s", stored, len(request.licences), ",".join(cases)
    )


@activity.defn(name="find_elicences")
def find_elicences(query: ELicenceQuery) -> ELicenceList:
    """The holder's valid e-licences of the wanted types (数据跑路: never ask twice)."""
    with read_session(read_model_engine()) as session:
        records = valid_licences(
            session, query.holder_id, query.types, query.on, lookup_key=lookup_key()
        )
    return ELicenceList(
        licences=[
            ELicence(
                type=r.type,
                name=r.name,
                number=r.number,
                department=r.department,
                valid_from=r.issued_on,
                valid_to=r.valid_to,
                case_no=r.case_no,
            )
            for r in records
        ]
    )


@activity.defn(name="revoke_licences")
def revoke_licences(revocation: Revocation) -> None:
    """Revoke after a failed verification and mark the holder's credit record."""
    with write_session(read_model_engine()) as session:
        changed = revoke_in_store(session, revocation, lookup_key=lookup_key())
    logger.info("licences revoked=%d case_no=%s", changed, revocation.case_no)
