"""``edgekit runtime``: the board's TFLM runtime sources (pinned commits, verified content)."""

from __future__ import annotations

from pathlib import Path

import click

from . import main


@main.group()
def runtime() -> None:
    """The TFLM runtime the sketch ships: where its pinned sources are, and fetching them once.

    \b
    Example:
      edgekit runtime fetch
      edgekit runtime show --runtime-src ~/src/edgekit-runtime
    """


_SOURCE = click.option(
    "--runtime-src",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    metavar="DIR",
    envvar="EDGEKIT_RUNTIME_SRC",
    show_envvar=True,
    help="Folder with tflite-micro/, CMSIS-NN/, flatbuffers/, gemmlowp/, ruy/ (default: edgekit's cache).",
)


@runtime.command("fetch")
@_SOURCE
def fetch(runtime_src: Path | None) -> None:
    """Download the pinned sources into edgekit's cache (or check --runtime-src), verifying every component.

    \b
    Example:
      edgekit runtime fetch
    """
    from ..runtime.sources import locate_sources

    sources = locate_sources(runtime_src, download=True)
    for name, pin in sources.describe().items():
        click.echo(f"{name:<14}{pin:<60}{sources.root(name)}")


@runtime.command("show")
@_SOURCE
def show(runtime_src: Path | None) -> None:
    """Print the pinned components and where they are found (nothing is downloaded).

    \b
    Example:
      edgekit runtime show
    """
    from ..runtime.sources import COMPONENTS, locate_sources

    sources = locate_sources(runtime_src, download=False)
    click.echo(f"runtime sources: {sources.origin} (verified)")
    for component in COMPONENTS:
        pin = f"{component.repo}@{component.commit}"
        click.echo(f"{component.name:<14}{pin:<64} content sha256 {component.digest[:16]}")
