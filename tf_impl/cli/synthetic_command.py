"""``deepdream synthetic-model``: a GoogLeNet with random weights, to try every command offline."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from conversion.output_checks import check_output_file
from conversion.synthetic import SYNTHETIC_NET_NAME
from tf_impl.cli.parsing import HelpFormatter, seed

LABEL = SYNTHETIC_NET_NAME + " (random He-scaled weights, seed {seed}): not for real dreams"
EXAMPLES = """examples (everything offline; the sample photo comes with matplotlib):
  deepdream synthetic-model -o synthetic.keras
  deepdream layers --model synthetic.keras --size 224x224
  deepdream dream "$(python -m tf_impl.images.sample)" -o d.png --model synthetic.keras
  deepdream synthetic-model -o synthetic.caffemodel && \\
    deepdream convert --model synthetic.caffemodel -o converted.keras
"""


@dataclass(frozen=True)
class SyntheticJob:
    """A checked ``synthetic-model``: the output (.keras or .caffemodel), seed, class count."""

    output: Path
    seed: int
    classes: int


def register(subparsers) -> None:
    """Add the synthetic-model subcommand."""
    parser = subparsers.add_parser(
        "synthetic-model",
        help="write a GoogLeNet with random weights (try the tool offline)",
        description="Write the GoogLeNet architecture with seeded random weights, as a "
        ".keras file (ready for --model) or a .caffemodel (V2, for trying 'convert'). It "
        "needs no download, so every command can be tried offline; dreams made with it show "
        "the algorithm at work but not DeepDream's pictures. The file is labelled as "
        "synthetic (the .keras metadata 'source', the caffemodel's net name).",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("-o", "--output", required=True, help="output .keras or .caffemodel")
    parser.add_argument("--seed", type=seed, default=0, help="weights seed (default: 0)")
    parser.add_argument(
        "--classes", type=int, default=1000, help="classifier outputs (default: 1000)"
    )
    parser.set_defaults(func=run_synthetic_model, check=check_synthetic_model)


def check_synthetic_model(args) -> SyntheticJob:
    """Before TensorFlow: a writable .keras or .caffemodel output, a positive class count."""
    from conversion.errors import DeepDreamError

    output = check_output_file(args.output, (".keras", ".caffemodel"))
    if args.classes < 1:
        raise DeepDreamError(f"--classes must be at least 1 (got {args.classes})")
    return SyntheticJob(output, args.seed, args.classes)


def run_synthetic_model(job: SyntheticJob) -> int:
    """Write the labelled synthetic model and say what it is."""
    import tempfile

    from conversion.outputs import atomic_output
    from conversion.synthetic import synthetic_googlenet
    from tf_impl.models.convert import convert_caffemodel

    label = LABEL.format(seed=job.seed)
    net_param = synthetic_googlenet(job.seed, "V2", job.classes)
    net_param.name = label
    output = job.output
    if output.suffix.lower() == ".caffemodel":
        with atomic_output(output) as tmp:
            tmp.write_bytes(net_param.SerializeToString())
    else:
        with tempfile.TemporaryDirectory() as scratch:
            caffemodel = Path(scratch) / "synthetic.caffemodel"
            caffemodel.write_bytes(net_param.SerializeToString())
            net = convert_caffemodel(caffemodel)
        net.metadata.update(source=label, synthetic=True)
        net.save(output)
    print(f"wrote {output}: {label}", file=sys.stderr)
    return 0
