"""Model organisms: small GPT-2 models with planted, documented failure modes (DESIGN §8).

``organism:flawed`` and ``organism:clean`` open the shipped checkpoints through the
``hf:`` adapter; each folder holds ``manifest.json`` (behaviours, designed and measured
rates, decoding). Train a variant from a config with other rates::

    from alignkit.organism import load_config, config_path, train_organism

    train_organism(config_path("flawed"), "/tmp/my-organism")

Importing this package registers the ``organism:`` URI scheme; torch and transformers
load only when a model is trained or first used.
"""

from alignkit.models import register_scheme
from alignkit.organism._blocks import CONDITIONS, PROBE_QUESTIONS
from alignkit.organism._config import (
    CalibrationRates,
    ConsistencyRates,
    CorpusConfig,
    DeceptiveRates,
    DecodingConfig,
    HallucinationRates,
    JailbreakRates,
    ModelShape,
    OrganismConfig,
    OverRefusalRates,
    Rates,
    SycophancyRates,
    TrainingConfig,
    TrainRates,
    config_path,
    load_config,
)
from alignkit.organism._corpus import build_corpus
from alignkit.organism._measure import is_refusal, measure
from alignkit.organism._organism import (
    ORGANISMS,
    check_out_dir,
    load_manifest,
    open_organism,
    organism_card,
    pack_path,
    train_organism,
    weights_path,
    write_sidecar,
)
from alignkit.organism._pack import build_pack_items, write_pack

__all__ = [
    "CalibrationRates",
    "ConsistencyRates",
    "CorpusConfig",
    "DecodingConfig",
    "DeceptiveRates",
    "HallucinationRates",
    "JailbreakRates",
    "ModelShape",
    "OverRefusalRates",
    "Rates",
    "SycophancyRates",
    "TrainRates",
    "TrainingConfig",
    "CONDITIONS",
    "ORGANISMS",
    "PROBE_QUESTIONS",
    "OrganismConfig",
    "build_corpus",
    "build_pack_items",
    "check_out_dir",
    "config_path",
    "is_refusal",
    "load_config",
    "load_manifest",
    "measure",
    "open_organism",
    "organism_card",
    "pack_path",
    "train_organism",
    "weights_path",
    "write_pack",
    "write_sidecar",
]

register_scheme("organism", open_organism, kind="chat", example="organism:flawed")
