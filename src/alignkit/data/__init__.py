"""Item packs: the item schema per kind, loaders, the shipped general pack.

A kind's items come from ``<kind>.jsonl``, ``<kind>.csv`` or ``<kind>.hf`` (a Hugging Face
``datasets`` dataset written by ``save_to_disk``; needs ``pip install datasets``).

Checks never hard-code their questions; they read items of a kind from a pack::

    from alignkit.data import general_pack_path, load_pack

    pack = load_pack(general_pack_path(), split="heldout")
    facts = pack.items("facts")        # tuple of FactItem
"""

from alignkit.data._items import (
    ITEM_KINDS,
    ArithmeticItem,
    BenignAlarmingItem,
    BenignItem,
    CalibrationItem,
    FactItem,
    HarmfulItem,
    Item,
    NonexistentEntityItem,
    PromptItem,
    Split,
    SplitSelector,
)
from alignkit.data._pack import (
    SCHEMA_VERSION,
    ItemPack,
    PackManifest,
    general_pack_path,
    load_pack,
    write_jsonl,
)
from alignkit.data._rows import read_rows

__all__ = [
    "ITEM_KINDS",
    "SCHEMA_VERSION",
    "ArithmeticItem",
    "BenignAlarmingItem",
    "BenignItem",
    "CalibrationItem",
    "FactItem",
    "HarmfulItem",
    "Item",
    "ItemPack",
    "NonexistentEntityItem",
    "PackManifest",
    "PromptItem",
    "Split",
    "SplitSelector",
    "general_pack_path",
    "load_pack",
    "read_rows",
    "write_jsonl",
]
