"""Subject naming: ``ideas.v1.<tenant>.<aggregate>.<event>``."""

import re

STREAM_NAME = "IDEAS"
STREAM_SUBJECTS = ["ideas.v1.>"]
DEVIATIONS_STREAM_NAME = "DEVIATIONS"
DEVIATIONS_STREAM_SUBJECTS = ["deviations.v1.>"]
DEAD_LETTER_STREAM_NAME = "DEADLETTERS"
DEAD_LETTER_SUBJECTS = ["deadletter.>"]

#: A single NATS subject token as Ideabank uses them (tenant slugs, aggregates, events).
TOKEN_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
_TOKEN = re.compile(TOKEN_PATTERN)
#: Aggregate of the inbound deviation contract, published outside the ideas stream.
DEVIATION_AGGREGATE = "deviation"


def check_token(value: str, what: str) -> str:
    """Return ``value`` if it is a safe single NATS subject token, else raise ValueError."""
    # fullmatch, not match: "$" alone would let a trailing newline through.
    if not _TOKEN.fullmatch(value):
        raise ValueError(f"{what} {value!r} is not a valid subject token (a-z, 0-9, _ and -)")
    return value


def subject_for(tenant: str, aggregate: str, event: str) -> str:
    """Build the subject of an idea event for one tenant."""
    return ".".join(
        (
            "ideas.v1",
            check_token(tenant, "tenant"),
            check_token(aggregate, "aggregate"),
            check_token(event, "event"),
        )
    )


def deviation_subject(tenant: str) -> str:
    """Subject on which a deviation/complaint system announces a registered deviation."""
    return f"deviations.v1.{check_token(tenant, 'tenant')}.{DEVIATION_AGGREGATE}.registered"


def dead_letter_subject(consumer: str, original_subject: str) -> str:
    """Subject under which a consumer parks an event it could not handle."""
    return f"deadletter.{check_token(consumer, 'consumer')}.{original_subject}"
