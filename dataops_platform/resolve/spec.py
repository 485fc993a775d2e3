"""The entity contract: which datasets describe the same real-world entity, and how to match.

One YAML file per entity in ``<contracts>/entities/`` (beside the dataset contracts). A user
who names only the fields gets working defaults: the comparison is inferred from the field
name, blocking from the comparisons, thresholds from what the generated benchmark showed.

    name: customer
    sources:
      - {dataset: customers, id: customer_id}
      - {dataset: webshop_customers, id: account_id, fields: {email: email_address}}
    fields: [first_name, last_name, email, birth_date, city]
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(str, Enum):
    """How one field of two records is compared (each gives a similarity in [0, 1])."""

    exact = "exact"          # equal after trim/lower
    fuzzy = "fuzzy"          # Jaro-Winkler on the normalized text
    name = "name"            # fuzzy, plus nicknames (Bill = William) and initials
    phonetic = "phonetic"    # same sound (Meier = Mayer), fuzzy otherwise
    date = "date"            # equal, or one typo / transposed digits / day-month swap
    numeric = "numeric"      # within ``tolerance`` (absolute)
    email = "email"          # lower-cased, '+tag' and gmail dots removed, then exact
    phone = "phone"          # digits only, the last 9 compared
    identifier = "identifier"  # letters and digits only; equal, one typo, or different


class Weights(str, Enum):
    """Where the bits each field's agreement level is worth come from."""

    fixed = "fixed"      # the engine's hand-set table (engine.WEIGHTS)
    learned = "learned"  # Fellegi-Sunter m/u estimated from the records (resolve/weights.py)


class Clustering(str, Enum):
    """How match edges become entities."""

    components = "components"  # connected components of the pairs scoring >= match
    strict = "strict"          # two groups join only if most of their record pairs match (no chaining)


# blocking rule parts: "field" (its key) or "field:part"
PARTS = ("key", "exact", "initial", "prefix", "year", "sound")


class Survivor(str, Enum):
    """Which source record gives a golden record's field value."""

    most_recent = "most_recent"      # the record ingested last (then the higher priority)
    most_complete = "most_complete"  # the longest non-empty value (then most recent)
    source_priority = "source_priority"  # the first source in ``sources`` order that has one


def default_compare(field: str) -> Compare:
    """What a field named like this usually needs."""
    if "email" in field:
        return Compare.email
    if "phone" in field or "mobile" in field:
        return Compare.phone
    if "date" in field or "birth" in field or field.endswith("_on"):
        return Compare.date
    if "name" in field:
        return Compare.name
    if field in ("zip", "postcode", "postal_code", "country", "gender", "state"):
        return Compare.exact
    if field.endswith(("_id", "_number", "_no")) or field in ("ssn", "passport", "tax_id"):
        return Compare.identifier
    return Compare.fuzzy


class FieldSpec(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)]
    compare: Compare | None = Field(default=None, description="Default: from the field name.")
    tolerance: float = Field(default=0.0, ge=0, description="numeric: largest equal difference.")
    survivorship: Survivor | None = Field(default=None, description="Default: the entity's.")
    weights: tuple[float, float, float, float] | None = Field(
        default=None, description="Bits for the levels exact, high, mid, disagree (a missing value "
                                  "adds 0); overrides the fixed table and what is learned.")
    group: Annotated[str, Field(pattern=IDENTIFIER)] | None = Field(
        default=None, description="Fields naming the same group are one piece of evidence: "
                                  "the group counts with its best field's bits, not their sum "
                                  "(street, postcode and suburb of one address; relatives "
                                  "share all of them).")
    term_frequency: bool | None = Field(
        default=None, description="Learned weights: an exact agreement on a rare value is worth "
                                  "more than on a common one. Default: on for name, phonetic, "
                                  "fuzzy and exact fields.")
    raw: bool | None = Field(
        default=None, description="Where the cleaned value is NULL (a date that did not parse), "
                                  "match on the raw text the file delivered. Default: on for "
                                  "date fields.")

    @property
    def use_raw(self) -> bool:
        return self.raw if self.raw is not None else self.method is Compare.date

    @property
    def tf(self) -> bool:
        if self.term_frequency is not None:
            return self.term_frequency
        return self.method in (Compare.name, Compare.phonetic, Compare.fuzzy, Compare.exact)

    @property
    def method(self) -> Compare:
        return self.compare or default_compare(self.name)


class SourceSpec(_Strict):
    dataset: Annotated[str, Field(pattern=IDENTIFIER)]
    id: Annotated[str, Field(pattern=IDENTIFIER)] = Field(
        description="The record's key within the dataset (its primary key).")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Entity field -> the dataset's column, where they differ.")
    key_space: str | None = Field(
        default=None,
        description="Sources naming the same key space share their ids (two regional exports "
                    "of one CRM): records with the same id are one entity without any scoring "
                    "(cross-source exact dedup); which values win is the survivorship rule.")
    deduplicated: bool = Field(
        default=False,
        description="The source's ids are already one per real entity (a curated CRM): its "
                    "records never match each other, and a record joins at most one of them "
                    "(its best match), so a look-alike cannot bridge two of them.")
    order_by: str = Field(
        default="_ingested_at",
        description="Which version of a record delivered in several files wins: the latest by "
                    "this column (cross-file exact dedup on the id).")

    raw_columns: dict[str, str] = Field(
        default_factory=dict, description="Entity field -> the raw (as delivered) column, for "
                                          "fields with raw: true whose header differs.")

    def column(self, field: str) -> str:
        return self.fields.get(field, field)


class Decision(_Strict):
    """Pairs scoring >= match are the same entity; review <= score < match go to review."""

    match: float = Field(default=0.9, gt=0, le=1)
    review: float = Field(default=0.6, gt=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Decision:
        if self.review > self.match:
            raise ValueError(f"decision: review ({self.review}) must not exceed match ({self.match})")
        return self


class EntityChecks(_Strict):
    """Thresholds of the checks on the entity table (each a warning when crossed)."""

    max_entity_drift: float = Field(
        default=0.25, ge=0, description="Largest relative change of the entity count per run.")
    min_matched_share: float = Field(
        default=0.01, ge=0, le=1,
        description="Smallest share of records that share their entity with another record.")
    max_pending_review: int = Field(default=100, ge=0,
                                    description="Most undecided pairs in the review table.")


class EntitySpec(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)]
    description: str = ""
    sources: list[SourceSpec] = Field(min_length=1)
    fields: list[FieldSpec] = Field(min_length=1)
    blocking: list[list[str]] = Field(
        default_factory=list,
        description="Candidate pairs share all parts of at least one rule (values normalized as "
                    "for comparison; name fields by Soundex, in either order). A part is a field "
                    "(its key) or field:part with part one of key, exact (the value even for "
                    "names), initial, prefix (a date's year, else 3 characters), year, sound. "
                    "Default (resolve.engine.default_rules): each email/phone/identifier field "
                    "alone, each date or exact field with name codes or initials, each fuzzy "
                    "field with the names.")
    weights: Weights = Field(default=Weights.fixed,
                             description="fixed: the engine's table; learned: estimated per run.")
    clustering: Clustering = Clustering.components
    decision: Decision = Decision()
    survivorship: Survivor = Survivor.most_recent
    checks: EntityChecks = EntityChecks()
    group: str = "entities"

    @field_validator("fields", mode="before", json_schema_input_type=list[str | FieldSpec])
    @classmethod
    def _names_alone(cls, value: object) -> object:
        """``fields: [first_name, email]`` is short for ``[{name: first_name}, ...]``."""
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _known_fields(self) -> EntitySpec:
        names = [f.name for f in self.fields]
        parts = [part for rule in self.blocking_parts for part in rule]
        unknown = sorted({f for f, _ in parts} - set(names))
        if unknown:
            raise ValueError(f"blocking: {unknown} are not among the fields {names}")
        bad = sorted({k for _, k in parts} - set(PARTS))
        if bad:
            raise ValueError(f"blocking: unknown part {bad} (one of {', '.join(PARTS)})")
        sounds = {"name", "phonetic"}
        unsounded = sorted({f for f, k in parts if k == "sound" and self.field(f).method.value not in sounds})
        if unsounded:
            raise ValueError(f"blocking: 'sound' needs a name or phonetic field, not {unsounded}")
        for source in self.sources:
            extra = sorted(set(source.fields) - set(names))
            if extra:
                raise ValueError(f"sources[{source.dataset}].fields: {extra} are not among the "
                                 f"fields {names}")
        datasets = [s.dataset for s in self.sources]
        if len(set(datasets)) != len(datasets):
            raise ValueError(f"sources: a dataset is listed twice ({datasets})")
        return self

    @property
    def key_spaces(self) -> dict[str, list[str]]:
        """key space -> its datasets (only spaces shared by two or more sources)."""
        spaces: dict[str, list[str]] = {}
        for source in self.sources:
            if source.key_space:
                spaces.setdefault(source.key_space, []).append(source.dataset)
        return {k: v for k, v in spaces.items() if len(v) > 1}

    @property
    def deduplicated_sources(self) -> list[str]:
        return [s.dataset for s in self.sources if s.deduplicated]

    @property
    def blocking_parts(self) -> list[list[tuple[str, str]]]:
        """The blocking rules as (field, part) pairs."""
        def part(text: str) -> tuple[str, str]:
            field, _, kind = text.partition(":")
            return field, kind or "key"
        return [[part(p) for p in rule] for rule in self.blocking]

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)
