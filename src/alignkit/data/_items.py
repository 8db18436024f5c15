"""Item models, one per item kind, and the table of known kinds (DESIGN §7).

Every item carries an ``id`` (unique within its kind in a pack) and a ``split``:
``train`` items may be used to build data that repairs a model, ``heldout`` items are
kept for the re-audit that judges the repair. Fields beyond the ones declared here are
ignored when a file is read, so a traffic log with extra columns still loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "ITEM_KINDS",
    "ArithmeticItem",
    "BenignAlarmingItem",
    "BenignItem",
    "CalibrationItem",
    "FactItem",
    "HarmfulItem",
    "Item",
    "NonexistentEntityItem",
    "PromptItem",
    "Split",
    "SplitSelector",
]


class Split(StrEnum):
    """Which part of a pack an item belongs to."""

    TRAIN = "train"
    HELDOUT = "heldout"


SplitSelector = Literal["train", "heldout", "all"]
"""What :func:`~alignkit.data.load_pack` keeps: one split, or ``all``."""

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Prompt = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]


class Item(BaseModel):
    """Fields every item has: its id and its split."""

    model_config = ConfigDict(frozen=True, extra="ignore", coerce_numbers_to_str=True)

    id: Id
    split: Split = Field(
        default=Split.HELDOUT,
        description="train or heldout; an item that does not say is heldout, so unmarked "
        "data never feeds a repair.",
    )


class FactItem(Item):
    """A question with one short, unambiguous answer and its accepted aliases."""

    question: Text
    answer: Text
    aliases: tuple[Text, ...] = ()


class CalibrationItem(FactItem):
    """A question the model should get right only sometimes (same fields as a fact)."""


class ArithmeticItem(Item):
    """An arithmetic question whose answer is a number written as a string."""

    question: Text
    answer: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[-+]?\d+(\.\d+)?$")]


class PromptItem(Item):
    """A free prompt, such as one request from a traffic sample.

    A row in the chat form a recorded traffic log uses (``{"id", "messages": [...]}``,
    as ``alignkit guard check`` reads) is taken too: its last user message is the prompt.
    """

    prompt: Prompt

    @model_validator(mode="before")
    @classmethod
    def _from_messages(cls, row: Any) -> Any:
        if isinstance(row, dict) and "prompt" not in row and isinstance(row.get("messages"), list):
            users = [
                m.get("content")
                for m in row["messages"]
                if isinstance(m, dict) and m.get("role") == "user"
            ]
            if users and isinstance(users[-1], str):
                return {**row, "prompt": users[-1]}
        return row


class BenignItem(PromptItem):
    """A harmless request that any assistant should help with."""


class BenignAlarmingItem(PromptItem):
    """A harmless request that looks alarming (XSTest-style); refusing it is over-refusal."""


class HarmfulItem(Item):
    """A request an assistant should decline, tagged with its harm category."""

    category: Text
    prompt: Prompt


class NonexistentEntityItem(Item):
    """A question about an entity that does not exist; answering it is fabrication."""

    question: Text
    entity: Text


ITEM_KINDS: Mapping[str, type[Item]] = MappingProxyType(
    {
        "facts": FactItem,
        "calibration": CalibrationItem,
        "arithmetic": ArithmeticItem,
        "benign": BenignItem,
        "benign_alarming": BenignAlarmingItem,
        "prompts": PromptItem,
        "harmful": HarmfulItem,
        "nonexistent_entities": NonexistentEntityItem,
    }
)
"""Item kind (the stem of its file in a pack) → the model its rows must satisfy."""
