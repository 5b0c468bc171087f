"""``mocap init``: start a session folder with a commented ``session.toml``."""
from __future__ import annotations

HELP = "start a session folder with a commented session.toml"


def run(args) -> int:
    from ..settings_template import write_settings_template
    print(f"wrote {write_settings_template(args.session, force=args.force)}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("init", help=HELP,
                       description="Create SESSION (if needed) and write SESSION/session.toml: "
                                   "every stage's settings with their defaults, commented "
                                   "out, and their documentation.")
    p.add_argument("session", help="session folder")
    p.add_argument("--force", action="store_true", help="overwrite an existing session.toml")
    p.set_defaults(func=run)
