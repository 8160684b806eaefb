// edgekit_app.h - entry points of edgekit's activity classifier (edgekit_app.cpp).
// The .ino only forwards setup() and loop() here, so that all code is plain C++ that the Arduino
// preprocessor never rewrites.

#ifndef EDGEKIT_APP_H_
#define EDGEKIT_APP_H_

void edgekit_setup();
void edgekit_loop();

#endif  // EDGEKIT_APP_H_
