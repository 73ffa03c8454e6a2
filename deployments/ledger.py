"""The ledger: every change to a service in an environment, numbered.

Each deploy, rollback, promotion and configuration change of a service in
an environment appends the next number (v1, v2, ...). Entries are never
rewritten or deleted; the model refuses both.

Numbers are taken without locks: the next number is read and inserted,
and when a concurrent writer took it first the unique constraint refuses
the insert and the read is repeated. This works alike on PostgreSQL and
SQLite and never waits on rows other code may hold.
"""

import logging

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q

from deployments.choices import LedgerKind, Trigger
from deployments.models import LedgerEntry

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 20
REASON_MAX_LENGTH = LedgerEntry._meta.get_field("reason").max_length
LABEL_MAX_LENGTH = LedgerEntry._meta.get_field("actor_label").max_length


def _next_numbers(service, environment, kind):
    """The next entry number and config version, read in one statement.

    In one statement both come from the same snapshot, and every entry
    below the highest number seen was committed before it.
    """
    totals = LedgerEntry.objects.filter(
        service=service, environment=environment
    ).aggregate(
        last=Max("number"),
        configs=Count("pk", filter=Q(kind=LedgerKind.CONFIG)),
    )
    number = (totals["last"] or 0) + 1
    config_version = totals["configs"] + (1 if kind == LedgerKind.CONFIG else 0)
    return number, config_version


def _taken(service, environment, number):
    return LedgerEntry.objects.filter(
        service=service, environment=environment, number=number
    ).exists()


def record(
    service,
    environment,
    kind,
    *,
    actor=None,
    actor_label="",
    trigger,
    version="",
    digest="",
    reason="",
    deployment=None,
):
    """Append the next entry for (service, environment) and return it.

    ``config_version`` is the number of configuration entries of the pair
    so far, this one included. Safe to call concurrently and inside an
    outer transaction.
    """
    if kind not in LedgerKind.values:
        raise ValueError(f"{kind!r} is not a ledger kind")
    if trigger not in Trigger.values:
        raise ValueError(f"{trigger!r} is not a trigger")
    if actor is not None and not actor.is_authenticated:
        actor = None
    if actor is not None and not actor_label:
        actor_label = actor.get_username()

    for _ in range(MAX_ATTEMPTS):
        number, config_version = _next_numbers(service, environment, kind)
        try:
            with transaction.atomic():
                entry = LedgerEntry.objects.create(
                    service=service,
                    environment=environment,
                    number=number,
                    kind=kind,
                    actor=actor,
                    actor_label=actor_label[:LABEL_MAX_LENGTH],
                    trigger=trigger,
                    version=version,
                    digest=digest,
                    config_version=config_version,
                    reason=reason[:REASON_MAX_LENGTH],
                    deployment=deployment,
                )
        except IntegrityError:
            if not _taken(service, environment, number):
                raise
            logger.debug("ledger number %s taken; reading again", number)
            continue
        return entry
    raise RuntimeError(
        f"no ledger number for {service}/{environment} after {MAX_ATTEMPTS} tries"
    )


def entries(service, environment=None):
    """The service's entries, newest first, optionally for one environment."""
    queryset = LedgerEntry.objects.filter(service=service).select_related(
        "environment", "actor"
    )
    if environment is not None:
        return queryset.filter(environment=environment).order_by("-number")
    return queryset.order_by("-created_at", "-pk")
