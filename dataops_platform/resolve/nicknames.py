"""A small nickname table: Bill is William, Liz is Elizabeth.

Why: Jaro-Winkler scores "bill"/"william" at 0.0-0.5, so without this a nickname looks like a
different person. Each variant maps to one canonical given name (an ambiguous short form such
as "alex" or "chris" maps to the more common full name, which is why the engine only treats a
shared canonical as strong, not certain, evidence). Lower-case ASCII; extend freely.
"""

from __future__ import annotations

# canonical name -> its usual short forms and spelling variants
NICKNAMES: dict[str, tuple[str, ...]] = {
    "william": ("bill", "billy", "will", "willy", "liam"),
    "robert": ("bob", "bobby", "rob", "robbie", "bert"),
    "john": ("jon", "johnny", "jonathan", "jack", "jonny"),
    "elizabeth": ("liz", "lizzie", "beth", "betty", "eliza", "elisabeth", "libby"),
    "katherine": ("kate", "katie", "kathy", "catherine", "kathryn", "cathy", "kat", "katharina"),
    "michael": ("mike", "mikey", "mick", "micha"),
    "richard": ("rick", "dick", "rich", "richie"),
    "james": ("jim", "jimmy", "jamie"),
    "joseph": ("joe", "joey", "josef"),
    "thomas": ("tom", "tommy", "thom"),
    "christopher": ("chris", "kit", "topher"),
    "daniel": ("dan", "danny"),
    "matthew": ("matt", "matty"),
    "anthony": ("tony", "anton"),
    "andrew": ("andy", "drew", "andreas"),
    "edward": ("ed", "eddie", "ted", "ned"),
    "alexander": ("alex", "sasha", "sandy", "alexandra"),
    "benjamin": ("ben", "benny"),
    "samuel": ("sam", "sammy"),
    "nicholas": ("nick", "nicky", "nico", "nikolaus", "klaus"),
    "stephen": ("steve", "steven", "stefan"),
    "peter": ("pete", "piet"),
    "charles": ("charlie", "chuck", "karl", "carl"),
    "david": ("dave", "davey"),
    "timothy": ("tim", "timmy"),
    "patrick": ("pat", "paddy"),
    "gregory": ("greg",),
    "jennifer": ("jen", "jenny", "jenn"),
    "margaret": ("maggie", "meg", "peggy", "greta", "margarete"),
    "susan": ("sue", "susie", "suzanne"),
    "deborah": ("deb", "debbie"),
    "rebecca": ("becky", "becca"),
    "patricia": ("patty", "trish", "tricia"),
    "victoria": ("vicky", "tori"),
    "jessica": ("jess", "jessie"),
    "barbara": ("barb", "babs"),
    "christina": ("christine", "tina", "kristina", "christiane"),
    "johanna": ("hanna", "hannah", "jo", "joanna"),
    "josephine": ("josie", "fifi"),
    "abigail": ("abby", "gail"),
    "samantha": ("sammie",),
    "dorothy": ("dot", "dottie", "dora"),
    "wolfgang": ("wolf",),
    "friedrich": ("fritz", "fred", "frederick", "freddy"),
    "heinrich": ("heinz", "henry", "hank", "harry"),
    "juergen": ("jurgen", "jorg", "joerg"),
}


def nickname_pairs() -> list[tuple[str, str]]:
    """(variant, canonical) rows, the canonical mapping to itself, for a SQL lookup table."""
    rows = [(canonical, canonical) for canonical in NICKNAMES]
    seen = set(NICKNAMES)
    for canonical, variants in NICKNAMES.items():
        for variant in variants:
            if variant not in seen:  # first listing wins, so a variant has one canonical
                seen.add(variant)
                rows.append((variant, canonical))
    return rows
