"""Every ORM table of the service, one module per domain; import them from here."""

from service.models.agreements import (
    INTENT_STATES,
    MEMORANDUM_STATES,
    Intent,
    IntentDomain,
    IntentTransition,
    Memorandum,
    MemorandumDomain,
    MemorandumSignatory,
    MemorandumTransition,
)
from service.models.auth import API_KEY_ROLES, ApiKey, IdempotencyRecord
from service.models.checkins import SCAN_OUTCOMES, CheckIn, Scan
from service.models.directory import (
    COMMITTEE_LEVELS,
    ORGANIZATION_KINDS,
    Committee,
    CommitteeDomain,
    Domain,
    Organization,
    OrganizationDomain,
)
from service.models.events import EVENT_STATES, Event
from service.models.meetings import (
    MEETING_STATUSES,
    PREFERENCE_KINDS,
    REQUEST_STATES,
    SCHEDULE_STATES,
    Meeting,
    MeetingChange,
    MeetingRequest,
    Preference,
    Schedule,
)
from service.models.participants import Participant, Person
from service.models.webhooks import (
    DELIVERY_STATUSES,
    WEBHOOK_EVENT_TYPES,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

__all__ = [
    "API_KEY_ROLES",
    "COMMITTEE_LEVELS",
    "DELIVERY_STATUSES",
    "EVENT_STATES",
    "INTENT_STATES",
    "MEETING_STATUSES",
    "MEMORANDUM_STATES",
    "ORGANIZATION_KINDS",
    "PREFERENCE_KINDS",
    "REQUEST_STATES",
    "SCAN_OUTCOMES",
    "SCHEDULE_STATES",
    "WEBHOOK_EVENT_TYPES",
    "ApiKey",
    "CheckIn",
    "Committee",
    "CommitteeDomain",
    "Domain",
    "Event",
    "IdempotencyRecord",
    "Intent",
    "IntentDomain",
    "IntentTransition",
    "Meeting",
    "MeetingChange",
    "MeetingRequest",
    "Memorandum",
    "MemorandumDomain",
    "MemorandumSignatory",
    "MemorandumTransition",
    "Organization",
    "OrganizationDomain",
    "OutboxEvent",
    "Participant",
    "Person",
    "Preference",
    "Scan",
    "Schedule",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
]
