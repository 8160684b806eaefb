// host.h - what a desktop harness gives the shared host bodies of the stubs (serial.cc), see ../README.md.
#pragma once

namespace edgekit_host {

// Whether the host has the serial port open (Serial's operator bool), as the harness scripts it.
bool serial_connected();

}  // namespace edgekit_host
