"""`inversion-table plot`: a trace drawn as a picture (matplotlib)."""

from __future__ import annotations

import sys

from controller.commands.options import PROG



def add_parser(sub) -> None:
    pl = sub.add_parser("plot", help="draw a trace (simulate --log) as a picture: angle, target, limits, events",
                        description=(
        "Draw a trace written by simulate --log: the true and estimated angle, the target, the limits, the "
        "button presses, the stretches a stop or trip was latched, and trips and automatic returns. The "
        "format follows FILE's extension (.png without one); a folder gets TRACE.png inside it. Needs "
        "matplotlib (pip install -e '.[plot]'). Exit: 0 drawn, 2 input rejected."))
    pl.add_argument("trace", metavar="TRACE.jsonl")
    pl.add_argument("-o", "--output", metavar="FILE", required=True, help="the picture to write (.png, .svg, .pdf)")
    pl.add_argument("--title", help="a title (default: the trace's file name)")
    pl.set_defaults(main=main)


def main(args) -> int:
    from controller.records.plot import plot_trace

    drawn = plot_trace(args.trace, args.output, title=args.title)
    for note in drawn.notes:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    print(f"{drawn.path}: {drawn.count} samples drawn")
    return 0
