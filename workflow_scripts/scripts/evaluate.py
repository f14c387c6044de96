"""Snakemake adapter: rule evaluate."""

from pathlib import Path

import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

from workflow_scripts.energy import CarbonSettings, warm_up_energy_tracking
from workflow_scripts.logs import logging_to

smk = snakemake  # noqa: F821
# The meter's settings are the params (a rerun trigger); the rest of the carbon block (the
# shared-machine threshold of the job's flag) only labels the job's JSON, so it comes from the
# config, which triggers nothing.
carbon = CarbonSettings.from_config({**smk.config.get("carbon", {}), **smk.params.carbon})
warm_up_energy_tracking(carbon)  # overlaps codecarbon's hardware probe with the torch import

with logging_to(smk.log[0]):  # import errors, too, belong in the job's log
    from workflow_scripts.evaluation import EvaluateOutputs, evaluate_variant
    from workflow_scripts.experiments.base import VariantSpec

    evaluate_variant(
        VariantSpec.from_dict(smk.params.spec),
        seed=int(smk.wildcards.seed),
        data_path=Path(smk.input.data),
        checkpoint=Path(smk.input.model),
        outputs=EvaluateOutputs(
            *(Path(smk.output[k]) for k in ("metrics", "predictions", "emissions"))
        ),
        carbon=carbon,
        min_inference_seconds=smk.params.evaluation["min_inference_seconds"],
        min_inference_repeats=smk.params.evaluation["min_inference_repeats"],
        rollout_steps=smk.params.evaluation.get("rollout_steps"),  # set for rollouts only
        device_name=smk.params.device,
        threads=smk.threads,
    )
