"""What-if studies over the cost records: batch size, dtype, weight sparsity, training step.

Each module is a set of pure functions over `ModelCost`/`LayerCost` (the batch sweep alone
re-walks the graph, since batch changes every shape). Times come from `perfmodel.roofline`, so a
what-if never carries a second performance model.
"""
