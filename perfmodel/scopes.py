"""Hierarchical totals: layers grouped by the name scope they were exported under.

torch's legacy exporter names a node by its module path, `/layer1/layer1.0/conv1/Conv` (the last part
is the op); torchvision-style and dynamo names are dotted, `layer1.0.conv1`. The scope of a layer at
depth N is the first N parts of that path (`/`-separated parts without the op, else `.`-separated
parts); a layer with fewer parts is its own scope. Totals per scope are sums over its layers; a scope
holding a layer of unknown cost says so (its sums are lower bounds).
"""

from __future__ import annotations

from dataclasses import dataclass

from perfmodel.record import LayerCost, ModelCost


def scope_of(name: str, depth: int) -> str:
    """The first `depth` parts of a layer's module path."""
    if "/" in name:
        parts = [p for p in name.split("/") if p][:-1] or [name.strip("/")]
        return "/" + "/".join(parts[:depth])
    return ".".join(name.split(".")[:depth])


@dataclass(frozen=True)
class Scope:
    name: str
    layers: tuple[LayerCost, ...]

    def total(self, attr: str) -> float:
        return sum(getattr(layer, attr) for layer in self.layers if layer.supported)

    @property
    def complete(self) -> bool:
        return all(layer.supported for layer in self.layers)


def scopes(cost: ModelCost, depth: int) -> list[Scope]:
    """The model's scopes at `depth`, in the order their first layer runs."""
    found: dict[str, list[LayerCost]] = {}
    for layer in cost.layers:
        found.setdefault(scope_of(layer.name, depth), []).append(layer)
    return [Scope(name, tuple(layers)) for name, layers in found.items()]


def scope_dict(scope: Scope, depth: int) -> dict:
    return {"scope": scope.name, "depth": depth, "layers": len(scope.layers), "complete": scope.complete,
            "params": int(scope.total("params")), "non_trainable_params": int(scope.total("non_trainable_params")),
            "macs": int(scope.total("macs")), "flops": int(scope.total("flops")),
            "bytes_read": scope.total("bytes_read"), "bytes_written": scope.total("bytes_written")}
