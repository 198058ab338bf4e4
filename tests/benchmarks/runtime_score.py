"""Cross-model score: a spec calibrated once (`perfmodel calibrate --runtime onnxruntime`) predicts
models it never saw; each is measured end to end in onnxruntime (best of several runs, models measured
in interleaved rounds) and the error is printed per model.

    python -m perfmodel calibrate --runtime onnxruntime -o ort-cpu.toml
    python tests/benchmarks/runtime_score.py ort-cpu.toml [MODEL.onnx ...] [--rounds 3] [--runs 10]

Built-in models are exported with random weights; .onnx files with a dynamic batch run at batch 1.
Nothing measured here is used in the fit. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings

ZOO = ("alexnet", "vgg16", "resnet18", "resnet50", "resnet152", "googlenet")


def main() -> None:
    import onnxruntime as ort

    from perfmodel.fusion import fuse
    from perfmodel.hardware import load_spec
    from perfmodel.roofline import predict
    from perfmodel.runtime import model_file, random_feeds
    from perfmodel.walk import analyze_model

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec")
    parser.add_argument("models", nargs="*")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    spec = load_spec(args.spec)
    entries = []
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for source in (*ZOO, *args.models):
            cost = analyze_model(source, batch=1)
            path = model_file(source, cost, tmp)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            feeds = random_feeds(session, cost.inputs)
            session.run(None, feeds)
            prediction = predict(fuse(cost), spec)
            entries.append([source.rsplit("/", 1)[-1], session, feeds, prediction.total_s, prediction.bound_s, []])
        for _ in range(args.rounds):
            for entry in entries:
                session, feeds = entry[1], entry[2]
                for _ in range(args.runs):
                    start = time.perf_counter()
                    session.run(None, feeds)
                    entry[5].append(time.perf_counter() - start)
    print(f"{'model':<34} {'predicted':>10} {'bound':>10} {'measured':>10} {'error':>8}")
    errors = []
    for name, _, _, predicted, bound, times in entries:
        measured = min(times)
        error = (predicted - measured) / measured
        errors.append(abs(error))
        print(f"{name:<34} {predicted * 1e3:>8.2f}ms {bound * 1e3:>8.2f}ms {measured * 1e3:>8.2f}ms {100 * error:>+7.1f}%")
    within = sum(e <= 0.10 for e in errors)
    print(f"{len(errors)} models: median |error| {100 * statistics.median(errors):.1f}%, "
          f"{within} of {len(errors)} within 10%")


if __name__ == "__main__":
    main()
