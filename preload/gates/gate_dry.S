/* The gates of a dry run: gate.S built with PKRU as a per-thread word. */
#define GATE_DRY_RUN 1
#include "gates/gate.S"
