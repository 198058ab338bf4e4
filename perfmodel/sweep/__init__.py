"""Design-space sweeps over accelerator configurations: `config` (the sweep file and its points),
`evaluate` (points -> CSV rows), `pareto` (the front), `engine` (local processes or Dask), `plot`."""
