"""Snakemake adapter: rule evaluate."""

from pathlib import Path


def main(smk) -> None:
    from workflow_scripts.code_version import record_code_version
    from workflow_scripts.energy import CarbonSettings
    from workflow_scripts.evaluation import EvaluateOutputs, evaluate_variant
    from workflow_scripts.experiments.base import VariantSpec

    # As in train.py: the meter's settings from the params, the job's labels from the config.
    carbon = CarbonSettings.from_config({**smk.config.get("carbon", {}), **smk.params.carbon})
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
        inference_relative_precision=smk.params.evaluation["inference_relative_precision"],
        max_inference_seconds=smk.params.evaluation["max_inference_seconds"],
        rollout_steps=smk.params.evaluation.get("rollout_steps"),  # set for rollouts only
        device_name=smk.params.device,
        threads=smk.threads,
    )
    record_code_version(Path(smk.output.metrics), "evaluate")


if __name__ == "__main__":
    import checkout_on_path  # noqa: F401  (first: makes workflow_scripts importable)

    from workflow_scripts.warm_worker import run_job

    run_job(snakemake, "workflow_scripts.scripts.evaluate:main")  # noqa: F821
