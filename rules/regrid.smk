# Regridding stage: either shear-flow source -> a Zarr training store per split (xarray + Dask).


rule regrid_shear_flow:
    input:
        files=lambda wildcards: source_files(shear_data(), wildcards.split),
        source_stats=lambda wildcards: stats_file(shear_data()),
    output:
        store=directory(f"{WELL_DATA}/{{split}}.zarr"),
        stats=f"{WELL_DATA}/{{split}}.stats.yaml",
        cost=f"{WELL_DATA}/regrid/{{split}}.json",
        emissions=f"{WELL_DATA}/regrid/{{split}}_emissions.csv",
    log:
        "logs/regrid_shear_flow/{split}.log",
    benchmark:
        "benchmarks/regrid_shear_flow/{split}.tsv"
    conda:
        "../envs/data.yaml"
    threads: shear_data()["regrid"]["threads"]
    resources:
        energy_meter=1,
    params:
        settings=regrid_settings,
        carbon=measured_carbon(),
    script:
        "../workflow_scripts/scripts/regrid_shear_flow.py"
