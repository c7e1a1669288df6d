"""Masking of personal data for lists, logs and the read model."""


def mask_id_number(value: str) -> str:
    """Keep the first 4 and last 4 characters: ``1101**********4518``."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits: ``138****5678``."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]
