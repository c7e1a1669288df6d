"""The one exception the rules of a case raise, and the reason check they share."""


class ActionRefused(Exception):
    """An action that may not be taken; the message is shown to the user as is."""


def need_reason(reason: str, action: str) -> None:
    if not reason.strip():
        raise ActionRefused(f"{action}: a reason is required")
