"""``edgekit boards``: the boards edgekit can target and what each leaves for a model."""

from __future__ import annotations

import json

import click

from . import main


def _kib(n: int) -> str:
    kib = n / 1024
    return f"{kib:,.2f} KiB".replace(".00 ", " ") if kib < 10 else f"{kib:,.0f} KiB"


@main.command("boards")
@click.option("--json", "as_json", is_flag=True, help="Print the boards as one JSON line (a list) instead of a table.")
def boards(as_json: bool) -> None:
    """List the board files with their flash and RAM budgets.

    \b
    The budgets are what remains for the int8 model (flash) and its tensor arena (RAM) once the
    Arduino core and the TFLM runtime are in; edgekit's fit check uses these numbers.
    Example:
      edgekit boards
      edgekit build --board nano33-rev2 --out runs/demo
    """
    from ..boards import list_boards

    found = list_boards()
    if as_json:
        click.echo(json.dumps([board.to_dict() for board in found], sort_keys=True))
        return
    rows = [("board", "MCU", "clock", "flash", "RAM", "model budget", "arena budget", "IMU", "FQBN")]
    for b in found:
        rows.append(
            (
                b.name,
                f"{b.mcu} {b.core}",
                f"{b.clock_hz / 1e6:g} MHz",
                _kib(b.app_flash_bytes),
                _kib(b.app_ram_bytes),
                _kib(b.model_flash_budget),
                _kib(b.model_ram_budget),
                b.imu.chip if b.imu else "-",
                b.fqbn,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    click.echo("\nReserved sizes (core + TFLM runtime) are estimates; see 'reserved.source' in each board file.")
