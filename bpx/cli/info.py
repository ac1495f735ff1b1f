"""``bpx info``: versions, backends (usable or why not), devices, BLAS and threads, TF32."""

from __future__ import annotations

import json


def add_parser(subparsers):
    parser = subparsers.add_parser("info", help="what bpx sees on this machine",
                                   description="Versions, backends (usable or why not), devices, BLAS, TF32.")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args):
    from bpx.tools._info import collect, format_text

    info = collect()
    print(json.dumps(info, indent=2) if args.json else format_text(info))
    return 0
