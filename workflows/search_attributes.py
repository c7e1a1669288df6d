"""Search attributes for listing cases. Never personal data: they are not encrypted."""

from temporalio.common import SearchAttributeKey

CHAIN = SearchAttributeKey.for_keyword("OcChain")
STATUS = SearchAttributeKey.for_keyword("OcStatus")
STAGE = SearchAttributeKey.for_keyword("OcStage")
OPEN_DEPARTMENTS = SearchAttributeKey.for_keyword_list("OcOpenDepartments")
NEXT_DUE = SearchAttributeKey.for_datetime("OcNextDue")
WARNING = SearchAttributeKey.for_keyword("OcWarning")

ALL_KEYS = (CHAIN, STATUS, STAGE, OPEN_DEPARTMENTS, NEXT_DUE, WARNING)
