"""Talking to a connected board: find its port, read its protocol lines, monitor, capture, verify, flash.

One module per feature: :mod:`.ports` (which port is the board), :mod:`.link` (line parser and a port
that reopens itself), :mod:`.monitor`, :mod:`.capture`, :mod:`.verify` and :mod:`.flash` (arduino-cli
or PlatformIO). It sits beside :mod:`edgekit.report` in the layers and imports neither it nor ``build``.
"""
