"""`installation preview NAME`: one scene on a recorded take, no camera needed.

Play a scene on a take (default: the demo take shipped with the package).
Saving the scene's file reloads it. Without a display it runs headless for
--seconds (10 by default) and says how the scene did.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from installation.commands.options import add_models, add_seconds, description, window_size

log = logging.getLogger("installation")


def add_parser(commands) -> None:
    preview = commands.add_parser(
        "preview", help="show one scene on a recorded take (no camera or models needed)",
        description=description(__doc__))
    preview.add_argument("scene", help="a scene name (looked for in ./scenes, then among the "
                                       "built-in and installed scenes), or a scene file (.py)")
    preview.add_argument("--take", help="the take to play (default: the demo take)")
    add_seconds(preview)
    add_models(preview)
    preview.add_argument("--screenshot", help="write the last drawn frame to this PNG")
    preview.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="a setting of the scene (TOML value), may be repeated")
    preview.add_argument("--size", type=window_size, default=(1280, 720),
                         help="window size, e.g. 1280x720")
    preview.add_argument("--hud", action="store_true", help="start with the HUD shown (H toggles)")
    preview.set_defaults(handler=preview_command)


def preview_command(args) -> int:
    from installation.app.display import has_display
    from installation.assets import DEMO_TAKE, asset_path
    from installation.commands.scenes import parse_settings
    from installation.errors import InstallationError
    from installation.scenes.config import DirectorSettings, ScenesConfig
    from installation.scenes.discovery import discover_scenes, load_scene_file

    if args.scene.endswith(".py") or os.sep in args.scene:
        path = Path(args.scene)
        if not path.is_file():
            raise InstallationError("no such scene file", where=args.scene,
                                    fix="give a scene name or the path of a .py file")
        catalog = discover_scenes(path.resolve().parent)
        name = load_scene_file(path).name
    else:  # the search `scenes list` shows: ./scenes, then the built-in and installed scenes
        catalog = discover_scenes(ScenesConfig())
        name = args.scene
    catalog.get(name, where="preview")
    config = ScenesConfig(DirectorSettings(playlist=(name,), crossfade=0.0),
                          {name: parse_settings(args.set)} if args.set else {}, where="--set")
    take = Path(args.take) if args.take else asset_path(DEMO_TAKE)
    if not take.is_file():
        raise InstallationError("no such take", where=str(take),
                                fix="give a .jsonl or .jsonl.gz file written by `installation track`")
    if not has_display():
        os.environ["SDL_VIDEODRIVER"] = "dummy"
        if args.seconds is None:
            args.seconds = 10.0
        log.info("no display found: previewing without a window for %.0f s", args.seconds)

    from installation.app.loop import RealClock, RenderLoop
    from installation.app.replay import FramePlayer
    from installation.app.upkeep import Upkeep
    from installation.scenes.director import Director
    from installation.scenes.reload import SceneReloader

    clock = RealClock()
    director = Director(catalog, config, clock=clock.now, models_dir=args.models)
    player = FramePlayer.from_take(take, clock)
    loop = RenderLoop(player, director, reloader=SceneReloader(catalog), size=args.size,
                      title=f"installation preview: {name}", clock=clock, hud=args.hud,
                      upkeep=Upkeep(status=lambda: f"take {take.name}"))
    stats = loop.run(seconds=args.seconds, screenshot=args.screenshot)
    times = [t for stage in (director.stage,) if stage is not None for t in stage.frame_times]
    print(f"previewed {name} on {take.name}: drew {stats.drawn} frames in {stats.seconds:.1f} s "
          f"({stats.fps:.0f} fps); people seen {stats.people_seen}")
    if times:
        import numpy as np

        print(f"update+draw median {np.median(times) * 1000:.1f} ms, "
              f"p95 {np.percentile(times, 95) * 1000:.1f} ms "
              f"(budget {director.settings.budget_ms:.0f} ms)")
    for fault in director.faults:
        print(f"FAILED: {fault}")
    return 1 if director.faults else 0
