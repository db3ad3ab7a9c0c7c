"""Usernames that cannot pass for another (issue #19): "staff" spelt with a Cyrillic
letter dze (U+0455) read as staff.

Django's UsernameField has already NFKC-normalised the name (fullwidth letters are plain ones,
and "staff" then taken). What is left is a name mixing scripts with a character that looks like one of
another script: confusable_homoglyphs' is_dangerous, from Unicode's confusables data (UTS #39).
A name wholly in one script ("иван") stays allowed.
"""

from confusable_homoglyphs import confusables
from django.core.exceptions import ValidationError


def username_confusable_check(username: str) -> None:
    """Raise ValidationError for a mixed-script name holding look-alike characters."""
    found = confusables.is_dangerous(username)
    if found:
        raise ValidationError(
            "This name mixes alphabets with letters that look like others; use one alphabet.",
            code="confusable",
        )
