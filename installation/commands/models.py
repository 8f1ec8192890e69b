"""`installation models`: list, fetch or locate the MediaPipe model bundles and
the image networks.

MediaPipe model bundles and image networks: where they are found, and
downloading the official ones. The image networks (image_embedder,
image_classifier) are only needed by projects with image features.
"""
from __future__ import annotations

from installation.commands.options import add_models, description

# The bundles every piece tracks with (pose, and hands unless turned off);
# the others (lite and heavy pose, face, the image networks) are optional.
REQUIRED = ("pose_full", "hands")


def required_advice(rows) -> str | None:
    """The line saying what to do when a required bundle is missing or broken
    (None when they are all sound)."""
    missing = [r.name for r in rows if r.name in REQUIRED and r.path is None]
    broken = [r.name for r in rows if r.name in REQUIRED and r.path is not None and not r.ok]
    if not (missing or broken):
        return None

    def named(names: list[str], state: str) -> str:
        return f"{' and '.join(names)} (required) {'is' if len(names) == 1 else 'are'} {state}"

    parts = []
    if missing:
        parts.append(f"{named(missing, 'missing')}: run `installation models fetch` (needs "
                     "internet), or copy the .task files into a folder and set "
                     "INSTALLATION_MODELS to it")
    if broken:
        parts.append(f"{named(broken, 'broken')}: run `installation models fetch --force "
                     f"{' '.join(broken)}`, or put a good copy in its place")
    return "; ".join(parts)


def add_parser(commands) -> None:
    models = commands.add_parser("models", help="list, fetch or locate the model bundles",
                                 description=description(__doc__))
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="each bundle: found where, checked, sha256")
    add_models(listing)
    fetch = actions.add_parser("fetch", help="download the official bundles (needs internet)")
    fetch.add_argument("names", nargs="*",
                       help="models to fetch (default: pose_full hands face; "
                            "also image_embedder, image_classifier)")
    fetch.add_argument("--to", help="folder to put them in (default: the user cache)")
    fetch.add_argument("--force", action="store_true", help="download again even if present")
    path = actions.add_parser("path", help="print the file each bundle resolves to")
    path.add_argument("names", nargs="*", help="bundles (default: pose_full hands)")
    add_models(path)
    models.set_defaults(handler=models_command)


def models_command(args) -> int:
    from installation import model_fetch, models

    if args.action == "list":
        print("looking in: " + "; ".join(f"{label} {path}" for label, path in
                                          models.search_dirs(args.models)))
        rows = models.list_models(args.models, models.ALL_MODELS)
        for row in rows:
            state = "ok" if row.ok else "MISSING" if row.path is None else "BROKEN"
            print(f"{row.name:<16} {state:<8} {row.path or row.filename}  {row.detail}")
        advice = required_advice(rows)
        if advice:
            print(advice)
            return 1  # like doctor: the listing is whole, a check in it failed
        return 0
    if args.action == "path":
        for name in args.names or ["pose_full", "hands"]:
            print(models.resolve(name, args.models))
        return 0
    names = args.names or ["pose_full", "hands", "face"]
    for name in names:
        path = model_fetch.fetch(name, args.to, force=args.force)
        print(f"{name}: {path}  sha256 {models.sha256_of(path)}")
    return 0
