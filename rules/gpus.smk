# The `gpu` resource. Each job that may run on CUDA (train, evaluate, simulate_shear_flow of an
# experiment whose device is not cpu) holds one, at most as many at once as the machine has
# GPUs, and workflow_scripts/gpu_slots.py (called where the job resolves its device) pins it to
# a free one. `--resources gpu=N` or a profile's `resources` (profiles/slurm: the cluster's
# GPUs, not the login node's) set the limit instead.
#
# Counted while parsing, not when such a job is planned: Snakemake's scheduler copies its
# limits from the registered resources once, when it starts, after planning, and no code of
# the workflow runs in between. Counting (gpu_slots.count_gpus, without torch) reads the
# driver's /proc entries, or runs `nvidia-smi -L` where they are missing; it is skipped, and
# the count 0, where every experiment runs on the CPU.

from workflow_scripts.gpu_slots import count_gpus

MACHINE_GPUS = 0 if all(device_of(config, e) == "cpu" for e in EXPERIMENTS) else count_gpus()

if MACHINE_GPUS and "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", MACHINE_GPUS)

# GPUs the run may use: this machine's, or those a profile declares (a cluster's, which a login
# node without any does not see). On SLURM a job holding one gets `sbatch --gpus=1` and a
# partition with GPUs (profiles/slurm/partitions.yaml); a job without stays on the CPU ones.
_declared = workflow.global_resources.get("gpu")  # a Resource where parsed, an int registered
RUN_GPUS = int(getattr(_declared, "value", _declared) or 0)


def gpus_of(experiment):
    """The `gpu` resource of one job of the experiment."""
    return 1 if RUN_GPUS and device_of(config, experiment) != "cpu" else 0
