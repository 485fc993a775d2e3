"""How each comparison method normalizes a raw value (as DuckDB SQL) and a phonetic code.

Why a separate module: blocking keys, similarities and the explanation must all see the same
normalized value, and the tests pin the rules here (e.g. gmail dots) without a whole engine run.
"""

from __future__ import annotations

from dataops_platform.resolve.spec import Compare

# letters that sound alike share a Soundex digit; vowels, h, w, y carry none
_SOUNDEX = {**dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
            "l": "4", **dict.fromkeys("mn", "5"), "r": "6"}


def soundex(name: str | None) -> str | None:
    """American Soundex ('meier' and 'mayer' -> M600); None for a value without letters.

    DuckDB has no phonetic function, and the engine runs this only on distinct values.
    """
    letters = [c for c in (name or "").lower() if "a" <= c <= "z"]
    if not letters:
        return None
    code, last = letters[0].upper(), _SOUNDEX.get(letters[0], "")
    for c in letters[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != last:
            code += digit
            if len(code) == 4:
                break
        if c not in "hw":  # h and w do not separate two equal codes; vowels do
            last = digit
    return code.ljust(4, "0")


def _text(col: str) -> str:
    """Lower case, accents stripped, whitespace trimmed and collapsed; '' is missing."""
    return (f"nullif(trim(regexp_replace(lower(strip_accents(CAST({col} AS VARCHAR))), "
            f"'\\s+', ' ', 'g')), '')")


def normalized_sql(col: str, method: Compare) -> str:
    """SQL giving the value the comparison sees (the explanation shows this value)."""
    if method in (Compare.name, Compare.phonetic):
        # letters only: "Mary-Ann" = "maryann", "O'Neil" = "oneil"
        return f"nullif(regexp_replace({_text(col)}, '[^a-z]', '', 'g'), '')"
    if method is Compare.email:
        text = f"replace({_text(col)}, ' ', '')"
        local = f"regexp_replace(split_part({text}, '@', 1), '\\+.*$', '')"
        domain = f"split_part({text}, '@', 2)"
        gmail = f"{domain} IN ('gmail.com', 'googlemail.com')"
        return (f"CASE WHEN {text} IS NULL OR NOT contains({text}, '@') THEN {text} "
                f"WHEN {gmail} THEN replace({local}, '.', '') || '@gmail.com' "
                f"ELSE {local} || '@' || {domain} END")
    if method is Compare.phone:
        return f"nullif(right(regexp_replace(CAST({col} AS VARCHAR), '[^0-9]', '', 'g'), 9), '')"
    if method is Compare.date:
        # the eight digits YYYYMMDD, kept even when not a valid date (a typo may make one)
        digits = f"regexp_replace(CAST({col} AS VARCHAR), '[^0-9]', '', 'g')"
        return f"CASE WHEN length({digits}) = 8 THEN {digits} END"
    if method is Compare.identifier:
        return f"nullif(regexp_replace(lower(trim(CAST({col} AS VARCHAR))), '[^a-z0-9]', '', 'g'), '')"
    if method is Compare.numeric:
        return f"CAST(TRY_CAST(trim(CAST({col} AS VARCHAR)) AS DOUBLE) AS VARCHAR)"
    return _text(col)
